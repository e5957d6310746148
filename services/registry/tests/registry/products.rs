//! Products over gRPC: every RPC's happy path and unhappy paths, and search.

use crate::support::fixture;

use fixture::*;
use ocop_proto::registry::v1::*;
use ocop_testkit::authorized;
use tonic::Code;

#[tokio::test]
async fn create_get_update_delete_round() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Mật ong", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let p = f
        .create_product(&s.name, product("Mật ong rừng Hàm Rồng"))
        .await
        .unwrap();
    assert!(p.name.starts_with(&format!("{}/products/", s.name)));
    assert_eq!(p.origin_commune_code, HAM_RONG, "defaults to the producer's commune");
    assert_eq!(p.province_code, "38");
    assert_eq!(p.standards.len(), 1);
    let token = f.officer.clone();
    let got = f
        .client
        .get_product(authorized(GetProductRequest { name: p.name.clone() }, &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(got, p);

    let mut change = p.clone();
    change.display_name = "Mật ong Hạc Thành".into();
    change.standards.clear();
    change.state = ProductState::Discontinued as i32;
    let updated = f
        .client
        .update_product(authorized(
            UpdateProductRequest {
                product: Some(change),
                update_mask: mask(&["display_name", "standards", "state"]),
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(
        (
            updated.display_name.as_str(),
            updated.standards.len(),
            updated.etag.as_str()
        ),
        ("Mật ong Hạc Thành", 0, "v2")
    );
    let again = f
        .client
        .get_product(authorized(GetProductRequest { name: p.name.clone() }, &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(again, updated, "no stale read after the write");

    let deleted = f
        .client
        .delete_product(authorized(
            DeleteProductRequest {
                name: p.name.clone(),
                etag: "v2".into(),
                force: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let err = f
        .client
        .delete_product(authorized(
            DeleteProductRequest {
                name: p.name.clone(),
                etag: "v3".into(),
                force: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn create_unhappy_paths() {
    let mut f = fixture().await;
    let s = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let err = f.create_product(&s.name, Product::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(fields(&err), vec!["product.display_name", "product.group_code"]);

    let mut wrong_set = product("Mật ong");
    wrong_set.subgroup_code = "ruou-trang".into();
    wrong_set.origin_commune_code = "99999".into();
    wrong_set.standards[0].r#type = 0;
    wrong_set.standards[0].valid_until = Some(ocop_proto::common::v1::Date {
        year: 2025,
        month: 2,
        day: 30,
    });
    let err = f.create_product(&s.name, wrong_set).await.unwrap_err();
    assert_eq!(
        fields(&err),
        vec![
            "product.standards[0].type",
            "product.standards[0].valid_until",
            "product.subgroup_code",
            "product.origin_commune_code"
        ]
    );

    let err = f
        .create_product("subjects/nobody", product("Mật ong"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = f.create_product("nobody", product("Mật ong")).await.unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["parent".to_string()])
    );

    let token = f.other_officer.clone();
    let err = f
        .client
        .create_product(authorized(
            CreateProductRequest {
                parent: s.name.clone(),
                product: Some(product("X")),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "OUTSIDE_JURISDICTION")
    );
    let token = f.council.clone();
    let err = f
        .client
        .create_product(authorized(
            CreateProductRequest {
                parent: s.name.clone(),
                product: Some(product("X")),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::PermissionDenied, "ROLE_NOT_ALLOWED")
    );

    let token = f.officer.clone();
    let make = |id: &str| CreateProductRequest {
        parent: s.name.clone(),
        product: Some(product("X")),
        product_id: id.into(),
        request_id: String::new(),
    };
    f.client
        .create_product(authorized(make("mat-ong"), &token))
        .await
        .unwrap();
    let err = f
        .client
        .create_product(authorized(make("mat-ong"), &token))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = f
        .client
        .create_product(authorized(make("Mat Ong"), &token))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["product_id".to_string()])
    );

    // A dissolved producer registers nothing.
    let mut dissolved = s.clone();
    dissolved.state = SubjectState::Dissolved as i32;
    f.client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(dissolved),
                update_mask: mask(&["state"]),
            },
            &token,
        ))
        .await
        .unwrap();
    let err = f.create_product(&s.name, product("Y")).await.unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "SUBJECT_DISSOLVED")
    );
}

#[tokio::test]
async fn a_retried_create_returns_the_first_product() {
    let mut f = fixture().await;
    let s = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let token = f.officer.clone();
    let request_id = uuid::Uuid::new_v4().to_string();
    let make = || CreateProductRequest {
        parent: s.name.clone(),
        product: Some(product("Mật ong")),
        product_id: String::new(),
        request_id: request_id.clone(),
    };
    let a = f
        .client
        .create_product(authorized(make(), &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    let b = f
        .client
        .create_product(authorized(make(), &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(a, b);
    // The same request_id for another method is a client bug, named as such.
    let err = f
        .client
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(subject("HTX 2", "2801234568", HAM_RONG)),
                subject_id: String::new(),
                request_id: request_id.clone(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), reason(&err).as_str()),
        (Code::FailedPrecondition, "REQUEST_ID_REUSED")
    );
}

#[tokio::test]
async fn get_list_update_delete_unhappy_paths() {
    let mut f = fixture().await;
    let s = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    let p = f.create_product(&s.name, product("Mật ong")).await.unwrap();
    let token = f.officer.clone();
    for (name, code) in [
        ("subjects/x/products/missing", Code::NotFound),
        ("subjects/x", Code::InvalidArgument),
        ("", Code::InvalidArgument),
    ] {
        let err = f
            .client
            .get_product(authorized(GetProductRequest { name: name.into() }, &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{name}");
    }
    let list = |parent: &str, filter: &str| ListProductsRequest {
        parent: parent.into(),
        filter: filter.into(),
        ..Default::default()
    };
    for (request, code) in [
        (list("subjects/nobody", ""), Code::NotFound),
        (list("nobody", ""), Code::InvalidArgument),
        (list("subjects/-", "state = gone"), Code::InvalidArgument),
        (list("subjects/-", "price = 3"), Code::InvalidArgument),
        (
            ListProductsRequest {
                parent: "subjects/-".into(),
                order_by: "price".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
        (
            ListProductsRequest {
                parent: "subjects/-".into(),
                page_size: -1,
                ..Default::default()
            },
            Code::InvalidArgument,
        ),
    ] {
        let err = f
            .client
            .list_products(authorized(request.clone(), &token))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{request:?}");
    }
    let mut stale = p.clone();
    stale.etag = "v0".into();
    let cases = [
        (stale.clone(), mask(&["display_name"]), Code::Aborted),
        (p.clone(), mask(&["name"]), Code::InvalidArgument),
        (
            Product {
                group_code: "nothing".into(),
                ..p.clone()
            },
            mask(&["group_code"]),
            Code::InvalidArgument,
        ),
        (
            Product {
                origin_commune_code: "20440".into(),
                ..p.clone()
            },
            mask(&["origin_commune_code"]),
            Code::InvalidArgument,
        ),
        (
            Product {
                name: "subjects/x/products/y".into(),
                ..p.clone()
            },
            mask(&["display_name"]),
            Code::NotFound,
        ),
    ];
    for (product, update_mask, code) in cases {
        let err = f
            .client
            .update_product(authorized(
                UpdateProductRequest {
                    product: Some(product),
                    update_mask: update_mask.clone(),
                },
                &token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{update_mask:?}");
    }
    let token_other = f.other_officer.clone();
    let err = f
        .client
        .delete_product(authorized(
            DeleteProductRequest {
                name: p.name.clone(),
                etag: p.etag.clone(),
                force: false,
            },
            &token_other,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = f
        .client
        .delete_product(authorized(
            DeleteProductRequest {
                name: p.name.clone(),
                etag: "v7".into(),
                force: false,
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Aborted);
    let still = f
        .client
        .get_product(authorized(GetProductRequest { name: p.name.clone() }, &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(still, p, "nothing changed");
}

#[tokio::test]
async fn list_across_producers_filters_and_pages() {
    let mut f = fixture().await;
    let a = f
        .create_subject(subject("HTX A", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let b = f
        .create_subject(subject("HTX B", "2801234568", HAC_THANH))
        .await
        .unwrap();
    for (parent, name) in [(&a.name, "Mật ong A"), (&a.name, "Chè A"), (&b.name, "Mật ong B")] {
        let mut p = product(name);
        if name.starts_with("Chè") {
            p.subgroup_code = "che-tuoi-che-bien".into();
        }
        f.create_product(parent, p).await.unwrap();
    }
    let token = f.council.clone();
    let all = f
        .client
        .list_products(authorized(
            ListProductsRequest {
                parent: "subjects/-".into(),
                page_size: 2,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.products.len(), 2);
    let rest = f
        .client
        .list_products(authorized(
            ListProductsRequest {
                parent: "subjects/-".into(),
                page_size: 2,
                page_token: all.next_page_token,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.products.len(), 1);
    assert!(rest.next_page_token.is_empty());
    let of_a = f
        .client
        .list_products(authorized(
            ListProductsRequest {
                parent: a.name.clone(),
                order_by: "display_name".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        of_a.products
            .iter()
            .map(|p| p.display_name.as_str())
            .collect::<Vec<_>>(),
        vec!["Chè A", "Mật ong A"]
    );
    let honey = f
        .client
        .list_products(authorized(
            ListProductsRequest {
                parent: "subjects/-".into(),
                filter: format!(
                    "subgroup_code = mat-ong-cac-san-pham-tu-mat-ong-mat-khac AND commune_code = {HAC_THANH}"
                ),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(honey.products.len(), 1);
    assert_eq!(honey.products[0].display_name, "Mật ong B");
}

#[tokio::test]
async fn search_finds_mat_ong_da_bac_without_diacritics() {
    let mut f = fixture().await;
    let s = f.create_subject(subject("HTX", "2801234567", HAM_RONG)).await.unwrap();
    for name in [
        "Mật ong Đà Bắc",
        "Mật ong rừng Như Xuân",
        "Chè Đà Bắc",
        "Nước mắm Ba Làng",
    ] {
        let mut p = product(name);
        if !name.starts_with("Mật ong") {
            p.group_code = "thuc-pham".into();
            p.subgroup_code = "gia-vi-khac".into();
        }
        f.create_product(&s.name, p).await.unwrap();
    }
    let token = f.council.clone();
    let search = |query: &str, filter: &str| SearchProductsRequest {
        query: query.into(),
        filter: filter.into(),
        ..Default::default()
    };
    let found = f
        .client
        .search_products(authorized(search("mat ong da bac", ""), &token))
        .await
        .unwrap()
        .into_inner()
        .products;
    assert_eq!(
        found.first().map(|p| p.display_name.as_str()),
        Some("Mật ong Đà Bắc"),
        "best match first: {found:?}"
    );
    assert!(found.iter().all(|p| p.display_name != "Nước mắm Ba Làng"));
    let upper = f
        .client
        .search_products(authorized(search("ĐÀ BẮC", ""), &token))
        .await
        .unwrap()
        .into_inner()
        .products;
    assert_eq!(upper.len(), 2);
    let paged = f
        .client
        .search_products(authorized(
            SearchProductsRequest {
                query: "mat ong".into(),
                page_size: 1,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(paged.products.len(), 1);
    let second = f
        .client
        .search_products(authorized(
            SearchProductsRequest {
                query: "mat ong".into(),
                page_size: 1,
                page_token: paged.next_page_token.clone(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.products.len(), 1);
    assert_ne!(second.products[0].name, paged.products[0].name);
    let filtered = f
        .client
        .search_products(authorized(search("da bac", "group_code = do-uong"), &token))
        .await
        .unwrap()
        .into_inner()
        .products;
    assert!(filtered.is_empty());
    for (request, field) in [
        (search("", ""), "query"),
        (search("mat ong", "stars = 5"), "filter"),
        (
            SearchProductsRequest {
                query: "mat ong".into(),
                page_token: paged.next_page_token,
                filter: "province_code = 38".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ] {
        let err = f.client.search_products(authorized(request, &token)).await.unwrap_err();
        assert_eq!(
            (err.code(), fields(&err)),
            (Code::InvalidArgument, vec![field.to_string()])
        );
    }
}

#[tokio::test]
async fn the_taxonomy_lists_groups_and_sets() {
    let mut f = fixture().await;
    let token = f.council.clone();
    let groups = f
        .client
        .list_product_groups(authorized(ListProductGroupsRequest {}, &token))
        .await
        .unwrap()
        .into_inner()
        .product_groups;
    // 26/2026 Phụ lục I's 26 sets, and the 17 earlier sets products still carry.
    assert_eq!(groups.len(), 43);
    let current: Vec<&ProductGroup> = groups.iter().filter(|g| !g.legacy).collect();
    assert_eq!(current.len(), 26);
    let mut group_codes: Vec<&str> = current.iter().map(|g| g.group_code.as_str()).collect();
    group_codes.sort();
    group_codes.dedup();
    assert_eq!(
        group_codes,
        [
            "dich-vu-du-lich",
            "do-uong",
            "duoc-lieu",
            "sinh-vat-canh",
            "thu-cong-my-nghe",
            "thuc-pham"
        ]
    );
    let find = |group: &str, set: &str| {
        groups
            .iter()
            .find(|g| g.group_code == group && g.subgroup_code == set)
            .unwrap_or_else(|| panic!("{group}/{set}"))
    };
    assert_eq!(
        find("duoc-lieu", "tinh-dau-va-duoc-lieu-khac").group_name,
        "Dược liệu và sản phẩm từ dược liệu"
    );
    for set in ["hoa", "cay-canh", "dong-vat-canh"] {
        assert!(!find("sinh-vat-canh", set).legacy);
    }
    assert!(!find("do-uong", "ruou-trang").legacy, "an unchanged set keeps its code");
    let honey = find("thuc-pham", "mat-ong-cac-san-pham-tu-mat-ong-mat-khac");
    assert!(honey.legacy);
    assert_eq!(honey.scored_as, "mat-ong-mat-khac-va-nong-san-thuc-pham-khac");
    let textiles = find("vai-may-mac", "vai-may-mac");
    assert_eq!((textiles.legacy, textiles.scored_as.as_str()), (true, "vai-may-mac"));
    assert!(!find("thu-cong-my-nghe", "vai-may-mac").legacy);
    let equipment = find("thao-duoc", "trang-thiet-bi-dung-cu-y-te");
    assert_eq!((equipment.legacy, equipment.scored_as.as_str()), (true, ""), "removed");
    assert!(
        groups
            .iter()
            .filter(|g| g.legacy)
            .all(|g| g.scored_as.is_empty() || current.iter().any(|c| c.subgroup_code == g.scored_as))
    );

    // A new product takes a 26/2026 set; a legacy code stays valid.
    let s = f
        .create_subject(subject("HTX Hoa", "2801234567", HAM_RONG))
        .await
        .unwrap();
    let orchid = Product {
        group_code: "sinh-vat-canh".into(),
        subgroup_code: "hoa".into(),
        ..product("Lan rừng")
    };
    let orchid = f.create_product(&s.name, orchid).await.unwrap();
    assert_eq!(
        (orchid.group_code.as_str(), orchid.subgroup_code.as_str()),
        ("sinh-vat-canh", "hoa")
    );
    let honey = f.create_product(&s.name, product("Mật ong")).await.unwrap();
    assert_eq!(honey.subgroup_code, "mat-ong-cac-san-pham-tu-mat-ong-mat-khac");
    let err = f
        .client
        .list_product_groups(ListProductGroupsRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_products_origin_is_in_its_producers_province() {
    let mut f = fixture().await;
    let s = f
        .create_subject(subject("HTX Mật ong", "2801234567", HAM_RONG))
        .await
        .unwrap();
    // Phú Thọ (25) and Hà Nội (01) communes, for a producer of Thanh Hóa (38).
    for elsewhere in [DA_BAC, BA_DINH] {
        let err = f
            .create_product(
                &s.name,
                Product {
                    origin_commune_code: elsewhere.into(),
                    ..product("Mật ong")
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            (err.code(), reason(&err).as_str(), fields(&err)),
            (
                Code::InvalidArgument,
                "INVALID_FIELD",
                vec!["product.origin_commune_code".to_string()]
            ),
            "{elsewhere}: {}",
            err.message()
        );
        assert!(err.message().contains("province 38"), "{}", err.message());
    }
    let p = f
        .create_product(
            &s.name,
            Product {
                origin_commune_code: HAC_THANH.into(),
                ..product("Mật ong")
            },
        )
        .await
        .expect("another commune of the producer's province");
    let token = f.officer.clone();
    let mut change = p.clone();
    change.origin_commune_code = DA_BAC.into();
    let err = f
        .client
        .update_product(authorized(
            UpdateProductRequest {
                product: Some(change),
                update_mask: mask(&["origin_commune_code"]),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(
        (err.code(), fields(&err)),
        (Code::InvalidArgument, vec!["product.origin_commune_code".to_string()])
    );
    let again = f
        .client
        .get_product(authorized(GetProductRequest { name: p.name.clone() }, &token))
        .await
        .unwrap()
        .into_inner()
        .product
        .unwrap();
    assert_eq!(again, p, "nothing changed");
}
