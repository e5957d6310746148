//! The world the evaluation tests run in: a registry and an evaluation
//! service on their own database, and helpers to walk a round through its
//! states. Each test crate uses a part of it.

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{Product, Subject};
use ocop_testkit::flows::{self, NewProduct};
use ocop_testkit::{TestApp, TestEnv, authorized};
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub(crate) fn reason(status: &tonic::Status) -> String {
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

pub(crate) fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub(crate) struct World {
    pub env: TestEnv,
    _registry: TestApp,
    _evaluation: TestApp,
    pub registry: RegistryServiceClient<Channel>,
    pub evaluation: EvaluationServiceClient<Channel>,
    pub officer: String,
}

pub(crate) async fn world() -> World {
    world_with(|_| {}).await
}

pub(crate) async fn world_with(edit: impl FnOnce(&mut ocop_kit::config::Config)) -> World {
    let mut env = TestEnv::new().await;
    edit(&mut env.config);
    let registry_app = env.spawn(ocop_registry::spec(), ocop_registry::routes).await;
    env.config.services.registry.url = format!("http://{}", registry_app.grpc_addr);
    let evaluation_app = env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await;
    World {
        officer: env.token("province_officer", Some("38"), None),
        registry: RegistryServiceClient::new(registry_app.channel().await),
        evaluation: EvaluationServiceClient::new(evaluation_app.channel().await),
        env,
        _registry: registry_app,
        _evaluation: evaluation_app,
    }
}

impl World {
    /// A new channel to the evaluation service (for the contracts every
    /// service serves beside its own, such as the audit log).
    pub(crate) async fn evaluation_channel(&self) -> Channel {
        self._evaluation.channel().await
    }

    /// A producer in `commune` and its product of product set `subgroup`.
    pub(crate) async fn product(
        &mut self,
        commune: &str,
        number: &str,
        subgroup: &str,
        token: &str,
    ) -> (Subject, Product) {
        let new = NewProduct {
            commune,
            registration: number,
            name: "Sản phẩm",
            subgroup,
        };
        flows::product(&mut self.registry, token, new).await
    }

    pub(crate) async fn create_round(
        &mut self,
        round: EvaluationRound,
        token: &str,
    ) -> Result<EvaluationRound, tonic::Status> {
        self.evaluation
            .create_evaluation_round(authorized(
                CreateEvaluationRoundRequest {
                    evaluation_round: Some(round),
                    request_id: String::new(),
                },
                token,
            ))
            .await
            .map(|r| r.into_inner().evaluation_round.unwrap())
    }

    /// The commune's assessment of an entry (Decision 1489), by an officer of `commune`.
    pub(crate) async fn assess(&mut self, entry: &str, commune: &str) -> Result<Entry, tonic::Status> {
        let token = self
            .env
            .signer
            .issue("can-bo-xa", "commune_officer", Some("38"), Some(commune), 600)
            .unwrap();
        let assessment = CommuneAssessment {
            local_origin: true,
            local_labour: true,
            local_idea: true,
            local_identity: false,
            report: "Biên bản họp UBND xã".into(),
            ..Default::default()
        };
        self.evaluation
            .record_commune_assessment(authorized(
                RecordCommuneAssessmentRequest {
                    name: entry.into(),
                    commune_assessment: Some(assessment),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().entry.unwrap())
    }

    /// The commune's report (Decision 26/2026, Mẫu 03) on an entry, issued on
    /// `day`, by an officer of `commune`.
    pub(crate) async fn report(&mut self, entry: &str, commune: &str, day: Date) -> Result<Entry, tonic::Status> {
        let token = self
            .env
            .signer
            .issue("can-bo-xa", "commune_officer", Some("38"), Some(commune), 600)
            .unwrap();
        self.evaluation
            .record_commune_report(authorized(
                RecordCommuneReportRequest {
                    name: entry.into(),
                    commune_report: Some(flows::commune_report(day)),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().entry.unwrap())
    }

    /// What `entry`'s commune does before it is scored: the 4 criteria under
    /// 1489, the report under 26/2026 (dated the day before its batch's
    /// cut-off, or its round's date for an additional batch).
    pub(crate) async fn commune_step(&mut self, round: &EvaluationRound, entry: &Entry, commune: &str) -> Entry {
        match entry.commune_step() {
            CommuneStep::Report => {
                let before = round.proposed_before.expect("a 26/2026 round has its cut-off");
                let cut_off = ocop_kit::date::from_proto("", &before).unwrap();
                let day = ocop_kit::date::to_proto(cut_off.previous_day().unwrap().min(ocop_kit::date::today_vn()));
                self.report(&entry.name, commune, day).await.unwrap()
            }
            CommuneStep::FourCriteria => self.assess(&entry.name, commune).await.unwrap(),
            _ => entry.clone(),
        }
    }

    pub(crate) async fn enter(&mut self, round: &str, product: &str) -> Result<Entry, tonic::Status> {
        let token = self.officer.clone();
        self.evaluation
            .create_entry(authorized(
                CreateEntryRequest {
                    parent: round.into(),
                    entry: Some(Entry {
                        product: product.into(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().entry.unwrap())
    }
}

pub(crate) fn seat(user: &str, role: CouncilRole) -> CouncilMember {
    CouncilMember {
        user: user.into(),
        role: role as i32,
    }
}

/// A round of province 38 dated within its batch under Decision 26/2026 (batch
/// 1 on 1/6, batch 2 on 2/11; an additional batch on 1/6, with its basis).
pub(crate) fn province_round(year: i32, batch: i32, council: Vec<CouncilMember>) -> EvaluationRound {
    let (month, day) = if batch == 2 { (11, 2) } else { (6, 1) };
    EvaluationRound {
        level: RoundLevel::Province as i32,
        year,
        batch,
        province_code: "38".into(),
        decision_date: Some(Date { year, month, day }),
        council,
        batch_basis: if batch >= 3 && year >= 2026 {
            "Quyết định 45/QĐ-UBND; Kế hoạch 12/KH-UBND".into()
        } else {
            String::new()
        },
        ..Default::default()
    }
}

pub(crate) fn full_council() -> Vec<CouncilMember> {
    vec![
        seat("chu-tich", CouncilRole::Chair),
        seat("uy-vien-1", CouncilRole::Member),
        seat("thu-ky", CouncilRole::Secretary),
    ]
}

pub(crate) fn full_answers(set: &CriteriaSet) -> Vec<Answer> {
    set.parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .map(|c| {
            let option = if c.scoring == Scoring::Additive as i32 {
                0
            } else {
                c.options.len() as i32 - 1
            };
            Answer {
                criterion: c.code.clone(),
                options: vec![option],
            }
        })
        .collect()
}

impl World {
    /// A 2026 round of province 38 with `full_council()`, taken to SCORING
    /// with one entry per product, each through its commune's step.
    pub(crate) async fn scoring_round(
        &mut self,
        batch: i32,
        products: &[(&str, &str)],
    ) -> (EvaluationRound, Vec<Entry>) {
        let officer = self.officer.clone();
        let round = self
            .create_round(province_round(2026, batch, full_council()), &officer)
            .await
            .unwrap();
        let open = self
            .evaluation
            .open_evaluation_round(authorized(
                OpenEvaluationRoundRequest {
                    name: round.name.clone(),
                    etag: round.etag.clone(),
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .evaluation_round
            .unwrap();
        let mut entries = Vec::new();
        for (commune, product) in products {
            let entry = self.enter(&round.name, product).await.unwrap();
            entries.push(self.commune_step(&round, &entry, commune).await);
        }
        let scoring = self
            .evaluation
            .start_scoring(authorized(
                StartScoringRequest {
                    name: round.name.clone(),
                    etag: open.etag,
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .evaluation_round
            .unwrap();
        (scoring, entries)
    }

    /// A council member's token for province 38.
    pub(crate) fn member(&self, user: &str) -> String {
        self.env
            .signer
            .issue(user, "council_member", Some("38"), None, 600)
            .unwrap()
    }

    /// `user` saves `answers` for `entry` as a draft.
    pub(crate) async fn draft(&mut self, entry: &str, user: &str, answers: &[Answer]) -> ScoreSheet {
        let token = self.member(user);
        self.evaluation
            .save_score_sheet(authorized(
                SaveScoreSheetRequest {
                    entry: entry.into(),
                    answers: answers.to_vec(),
                    etag: String::new(),
                },
                &token,
            ))
            .await
            .unwrap()
            .into_inner()
            .score_sheet
            .unwrap()
    }

    /// `user` submits `sheet`.
    pub(crate) async fn submit(
        &mut self,
        sheet: &ScoreSheet,
        user: &str,
        request_id: &str,
    ) -> Result<ScoreSheet, tonic::Status> {
        let token = self.member(user);
        self.evaluation
            .submit_score_sheet(authorized(
                SubmitScoreSheetRequest {
                    name: sheet.name.clone(),
                    etag: sheet.etag.clone(),
                    request_id: request_id.into(),
                },
                &token,
            ))
            .await
            .map(|r| r.into_inner().score_sheet.unwrap())
    }

    /// Sheet `name` as `user` reads it.
    pub(crate) async fn sheet(&mut self, name: &str, user: &str) -> ScoreSheet {
        let token = self.member(user);
        self.evaluation
            .get_score_sheet(authorized(GetScoreSheetRequest { name: name.into() }, &token))
            .await
            .unwrap()
            .into_inner()
            .score_sheet
            .unwrap()
    }

    /// The pinned criteria set of `entry`.
    pub(crate) async fn pinned_set(&mut self, entry: &Entry) -> CriteriaSet {
        let officer = self.officer.clone();
        self.evaluation
            .get_criteria_set(authorized(
                GetCriteriaSetRequest {
                    name: entry.criteria_set.clone(),
                },
                &officer,
            ))
            .await
            .unwrap()
            .into_inner()
            .criteria_set
            .unwrap()
    }
}
