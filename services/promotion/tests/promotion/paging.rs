//! The catalog, fairs and listings page by keyset: the pages of a list join
//! into the whole, in order, without a row twice, and a token is refused
//! for another list or when damaged.

use crate::support::world;

use ocop_proto::promotion::v1::*;
use ocop_testkit::authorized;
use ocop_testkit::flows::RoundPlan;
use tonic::Code;
use world::*;

#[tokio::test]
async fn catalog_fairs_and_listings_page_by_keyset() {
    let mut w = world().await;
    let (tea, rice) = (w.product("Chè Xuân Thành").await, w.product("Gạo Hoằng Hóa").await);
    let tea_cert = w.certify(&tea, RoundPlan::province_2026(1, 4), date(2026, 6, 15)).await;
    w.certify(&rice, RoundPlan::province_2026(2, 3), date(2026, 6, 15))
        .await;
    let whole = w.until("both certificates listed", |e| e.len() == 2).await;
    let officer = w.officer.clone();

    // The catalog, one entry a page: 4 stars before 3.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .promotion
            .list_catalog(ListCatalogRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("a catalog page")
            .into_inner();
        seen.extend(page.entries.into_iter().map(|e| e.stars));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(seen.len() < 10, "the pages end");
    }
    assert_eq!(seen, whole.iter().map(|e| e.stars).collect::<Vec<_>>());
    assert_eq!(seen, [4, 3]);

    // Fairs, latest first, two a page over three.
    for (name, day) in [("Xuân", 10), ("Hạ", 20), ("Thu", 15)] {
        w.promotion
            .create_fair(authorized(
                CreateFairRequest {
                    fair: Some(Fair {
                        display_name: format!("Hội chợ OCOP {name}"),
                        start_date: date(2026, 12, day),
                        end_date: date(2026, 12, day + 2),
                        place: "Quảng trường Lam Sơn".into(),
                        organiser: "Sở Công Thương Thanh Hóa".into(),
                        ..Default::default()
                    }),
                },
                &officer,
            ))
            .await
            .expect("a fair");
    }
    let fairs = |token: String| ListFairsRequest {
        page_size: 2,
        page_token: token,
    };
    let first = w
        .promotion
        .list_fairs(authorized(fairs(String::new()), &officer))
        .await
        .expect("the first page")
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    let second = w
        .promotion
        .list_fairs(authorized(fairs(first.next_page_token.clone()), &officer))
        .await
        .expect("the second page")
        .into_inner();
    let days: Vec<i32> = first
        .fairs
        .iter()
        .chain(&second.fairs)
        .map(|f| f.start_date.as_ref().map_or(0, |d| d.day))
        .collect();
    assert_eq!(days, [20, 15, 10]);
    assert!(second.next_page_token.is_empty(), "the last page says so");

    // Listings of the tea's certificate, oldest first, one a page.
    for shop in ["che-1", "che-2", "che-3"] {
        w.promotion
            .create_listing(authorized(
                CreateListingRequest {
                    listing: Some(Listing {
                        platform: "Postmart".into(),
                        url: format!("https://postmart.vn/{shop}"),
                        certificate: tea_cert.name.clone(),
                        ..Default::default()
                    }),
                },
                &officer,
            ))
            .await
            .expect("a listing");
    }
    let listings = |certificate: &str, token: &str| ListListingsRequest {
        certificate: certificate.to_owned(),
        page_size: 1,
        page_token: token.to_owned(),
    };
    let mut urls = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .promotion
            .list_listings(authorized(listings(&tea_cert.name, &token), &officer))
            .await
            .expect("a listings page")
            .into_inner();
        assert!(page.listings.len() <= 1);
        urls.extend(page.listings.into_iter().map(|l| l.url));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        assert!(urls.len() < 10, "the pages end");
    }
    assert_eq!(
        urls,
        [
            "https://postmart.vn/che-1",
            "https://postmart.vn/che-2",
            "https://postmart.vn/che-3"
        ]
    );
    let every = w
        .promotion
        .list_listings(authorized(listings("", ""), &officer))
        .await
        .expect("every listing")
        .into_inner();
    assert_eq!(every.listings.len(), 1, "page_size holds without a certificate too");

    // A token of the tea's listings is refused for all listings, and a damaged one.
    let tea_page = w
        .promotion
        .list_listings(authorized(listings(&tea_cert.name, ""), &officer))
        .await
        .expect("a page")
        .into_inner();
    for (certificate, token) in [
        ("", tea_page.next_page_token.as_str()),
        (tea_cert.name.as_str(), "nonsense"),
    ] {
        let err = w
            .promotion
            .list_listings(authorized(listings(certificate, token), &officer))
            .await
            .expect_err("a token of another list, or none");
        assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    }
    let err = w
        .promotion
        .list_listings(authorized(
            ListListingsRequest {
                page_size: -1,
                ..Default::default()
            },
            &officer,
        ))
        .await
        .expect_err("a negative page size");
    assert_eq!(err.code(), Code::InvalidArgument);
}
