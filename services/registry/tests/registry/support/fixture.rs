//! A registry in the test process, with a token per kind of caller.

use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::*;
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;
use tonic_types::StatusExt;

/// Communes of the 2025 list used by the tests.
pub(crate) const HAM_RONG: &str = "14758"; // Phường Hàm Rồng, Thanh Hóa (38)
pub(crate) const HAC_THANH: &str = "14797"; // Phường Hạc Thành, Thanh Hóa (38)
pub(crate) const BA_DINH: &str = "00004"; // Phường Ba Đình, Hà Nội (01)
pub(crate) const DA_BAC: &str = "04831"; // Xã Đà Bắc, Phú Thọ (25)

pub(crate) struct Fixture {
    pub env: TestEnv,
    pub app: TestApp,
    pub client: RegistryServiceClient<Channel>,
    /// Province officer of Thanh Hóa (38).
    pub officer: String,
    /// Province officer of Hà Nội (01).
    pub other_officer: String,
    pub council: String,
    pub national: String,
    pub commune: String,
}

pub(crate) async fn fixture() -> Fixture {
    let env = TestEnv::new().await;
    let app = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    let client = RegistryServiceClient::new(app.channel().await);
    Fixture {
        officer: env.token("province_officer", Some("38"), None),
        other_officer: env.token("province_officer", Some("01"), None),
        council: env.token("council_member", Some("38"), None),
        national: env.token("national_officer", None, None),
        commune: env.token("commune_officer", Some("38"), Some(HAM_RONG)),
        env,
        app,
        client,
    }
}

pub(crate) fn subject(legal_name: &str, registration_number: &str, commune: &str) -> Subject {
    Subject {
        kind: SubjectKind::Cooperative as i32,
        legal_name: legal_name.into(),
        registration_number: registration_number.into(),
        representative: Some(Representative {
            full_name: "Lê Thị Lan".into(),
            is_woman: true,
            is_ethnic_minority: false,
        }),
        phone: "+84 237 385 1234".into(),
        email: "htx@example.vn".into(),
        address: "Thôn 1".into(),
        commune_code: commune.into(),
        ..Default::default()
    }
}

pub(crate) fn product(display_name: &str) -> Product {
    Product {
        display_name: display_name.into(),
        group_code: "thuc-pham".into(),
        subgroup_code: "mat-ong-cac-san-pham-tu-mat-ong-mat-khac".into(),
        description: "Mật ong rừng".into(),
        standards: vec![Standard {
            r#type: StandardType::FoodSafetyCertificate as i32,
            number: "123/2025/ATTP".into(),
            issuer: "Sở Y tế".into(),
            valid_until: Some(ocop_proto::common::v1::Date {
                year: 2028,
                month: 1,
                day: 31,
            }),
        }],
        ..Default::default()
    }
}

impl Fixture {
    pub(crate) async fn create_subject(&mut self, s: Subject) -> Result<Subject, tonic::Status> {
        let token = self.officer.clone();
        self.client
            .create_subject(authorized(
                CreateSubjectRequest {
                    subject: Some(s),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().subject.unwrap())
    }

    pub(crate) async fn create_product(&mut self, parent: &str, p: Product) -> Result<Product, tonic::Status> {
        let token = self.officer.clone();
        self.client
            .create_product(authorized(
                CreateProductRequest {
                    parent: parent.into(),
                    product: Some(p),
                    ..Default::default()
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().product.unwrap())
    }

    pub(crate) async fn get_subject(&mut self, name: &str) -> Result<Subject, tonic::Status> {
        let token = self.council.clone();
        self.client
            .get_subject(authorized(GetSubjectRequest { name: name.into() }, &token))
            .await
            .map(|r| r.into_inner().subject.unwrap())
    }
}

pub(crate) fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

pub(crate) fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub(crate) fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}
