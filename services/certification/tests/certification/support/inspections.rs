//! Inspection requests and the inspection RPCs, for the inspection tests.

use ocop_proto::certification::v1::*;
use ocop_testkit::authorized;

use crate::support::world::{World, from_date};

pub(crate) fn periodic(parent: &str) -> CreateInspectionRequest {
    CreateInspectionRequest {
        parent: parent.into(),
        inspection: Some(Inspection {
            kind: InspectionKind::Periodic as i32,
            inspection_date: from_date(ocop_kit::date::today_vn()),
            inspector: "Văn phòng Điều phối NTM tỉnh Thanh Hóa".into(),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

pub(crate) fn outcome(
    inspection: &Inspection,
    criteria: CheckResult,
    mark_use: CheckResult,
) -> RecordInspectionOutcomeRequest {
    RecordInspectionOutcomeRequest {
        name: inspection.name.clone(),
        etag: inspection.etag.clone(),
        criteria: criteria as i32,
        mark_use: mark_use as i32,
        product_information: CheckResult::NotChecked as i32,
        report: "Sản phẩm không còn duy trì chỉ tiêu vi sinh như hồ sơ".into(),
        conclusion_document: "Kết luận 15/KL-VPĐP".into(),
        conclusion_date: from_date(ocop_kit::date::today_vn()),
    }
}

pub(crate) fn review(inspection: &Inspection, accept: bool) -> ReviewRevocationProposalRequest {
    ReviewRevocationProposalRequest {
        name: inspection.name.clone(),
        etag: inspection.etag.clone(),
        accept,
        text: "Đề nghị của đoàn kiểm tra có căn cứ".into(),
        document: "Quyết định 88/QĐ-UBND".into(),
    }
}

/// Inspection RPCs as the province officer (or `token`).
impl World {
    pub(crate) async fn inspect(
        &mut self,
        token: &str,
        request: CreateInspectionRequest,
    ) -> Result<Inspection, tonic::Status> {
        self.certification
            .create_inspection(authorized(request, token))
            .await
            .map(|r| r.into_inner().inspection.unwrap())
    }

    pub(crate) async fn conclude(
        &mut self,
        request: RecordInspectionOutcomeRequest,
    ) -> Result<Inspection, tonic::Status> {
        let officer = self.officer.clone();
        self.certification
            .record_inspection_outcome(authorized(request, &officer))
            .await
            .map(|r| r.into_inner().inspection.unwrap())
    }

    pub(crate) async fn review(
        &mut self,
        token: &str,
        request: ReviewRevocationProposalRequest,
    ) -> Result<ReviewRevocationProposalResponse, tonic::Status> {
        self.certification
            .review_revocation_proposal(authorized(request, token))
            .await
            .map(|r| r.into_inner())
    }

    pub(crate) async fn inspections(
        &mut self,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> ListInspectionsResponse {
        let officer = self.officer.clone();
        self.certification
            .list_inspections(authorized(
                ListInspectionsRequest {
                    parent: parent.into(),
                    page_size,
                    page_token: page_token.into(),
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
    }
}
