//! The producer's dossier (Mẫu 01 and 02) and the commune's report (Mẫu 03)
//! as tests file them: complete, with plausible Vietnamese content.

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::CommuneReport;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    ChangeAspect, Compliance, CreateProductDossierRequest, DossierChange, DossierKind, Evidence, LegalRepresentative,
    Product, ProductDossier, RegistrationForm, SelfAssessment, Sex, Signature,
};
use tonic::transport::Channel;

use crate::authorized;

/// A complete dossier of `product` (Mẫu 01 and 02) of `kind`, filed and
/// received on `day`. An upgrade or a re-rating names `certificates/TEST` as
/// the recognised version, with one change and its evidence.
pub fn dossier_of(product: &Product, kind: DossierKind, (year, month, day): (i32, u8, u8)) -> ProductDossier {
    let day = Date {
        year,
        month: month.into(),
        day: day.into(),
    };
    let signature = |by: &str| Signature {
        place: "Thanh Hóa".into(),
        date: Some(day),
        signed_by: by.into(),
        sealed: true,
    };
    let recognised = kind != DossierKind::FirstRating;
    ProductDossier {
        kind: kind as i32,
        submitted_date: Some(day),
        receipt_number: format!(
            "01/PĐK-{}-{}-{year}",
            product.province_code, product.origin_commune_code
        ),
        registration: Some(RegistrationForm {
            year,
            applicant_name: format!("HTX {}", product.display_name),
            representative_name: "Lê Thị Lan".into(),
            representative_position: "Giám đốc".into(),
            address: "Thôn 1".into(),
            product_name: product.display_name.clone(),
            sample_count: 5,
            declaration_accepted: true,
            signature: Some(signature("Lê Thị Lan")),
            ..Default::default()
        }),
        self_assessment: Some(SelfAssessment {
            subject_name: format!("HTX {}", product.display_name),
            organisation_type: "Hợp tác xã".into(),
            legal_representative: Some(LegalRepresentative {
                full_name: "Lê Thị Lan".into(),
                sex: Sex::Female as i32,
                ethnicity: "Mường".into(),
                ..Default::default()
            }),
            product_specification: format!("{}, hộp 500 g, TCCS 01:2025", product.display_name),
            compliance: Some(Compliance {
                business_registration: true,
                quality_declared: true,
                food_safety_certificate: true,
                ..Default::default()
            }),
            history: "Thành lập năm 2019 từ tổ hợp tác của thôn.".into(),
            business_plan: "Mở rộng vùng nguyên liệu lên 20 ha.".into(),
            signature: Some(signature("Lê Thị Lan")),
            ..Default::default()
        }),
        recognised_certificate: if recognised {
            "certificates/TEST".into()
        } else {
            String::new()
        },
        changes: if recognised {
            vec![DossierChange {
                aspect: ChangeAspect::PackagingAndLabels as i32,
                description: "Bao bì mới, tem truy xuất điện tử".into(),
                evidence: vec![Evidence {
                    kind: "Mã số mã vạch, tem truy xuất nguồn gốc".into(),
                    reference: "GS1 893123".into(),
                    ..Default::default()
                }],
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    }
}

/// Files a FIRST_RATING dossier of `product`, submitted and received on `day`.
pub async fn file_dossier(
    registry: &mut RegistryServiceClient<Channel>,
    token: &str,
    product: &Product,
    day: (i32, u8, u8),
) -> ProductDossier {
    registry
        .create_product_dossier(authorized(
            CreateProductDossierRequest {
                parent: product.name.clone(),
                product_dossier: Some(dossier_of(product, DossierKind::FirstRating, day)),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("file dossier")
        .into_inner()
        .product_dossier
        .expect("dossier")
}

/// A commune's report (Mẫu 03) issued on `day`.
pub fn commune_report(day: Date) -> CommuneReport {
    CommuneReport {
        local_materials: "Nguyên liệu trồng tại xã, 12 ha".into(),
        local_labour: "18 lao động thường trú tại xã".into(),
        idea_origin: "Sản phẩm truyền thống của làng".into(),
        local_identity: "Giống địa phương, kinh nghiệm chế biến của đồng bào Mường".into(),
        report_date: Some(day),
        proposal_reference: "Tờ trình 12/TTr-UBND".into(),
        signed_by: "Chủ tịch UBND xã".into(),
        sealed: true,
        ..Default::default()
    }
}
