//! The OCOP cycle over gRPC, for tests of the services downstream of it: a
//! producer and its product in the registry, its dossier (Mẫu 01 and 02),
//! then a round in the evaluation service, its commune's step, scored by a
//! council of three and published.

use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{Certificate, IssueCertificateRequest};
use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    CreateProductRequest, CreateSubjectRequest, Product, Representative, Subject, SubjectKind,
};
use tonic::transport::Channel;

use crate::{TestEnv, authorized};

mod answers;
mod dossiers;

pub use answers::{answers_for, answers_totalling};
pub use dossiers::{commune_report, dossier_of, file_dossier};

/// The council of every round made here.
pub const COUNCIL: [(&str, CouncilRole); 3] = [
    ("chu-tich", CouncilRole::Chair),
    ("uy-vien", CouncilRole::Member),
    ("thu-ky", CouncilRole::Secretary),
];

/// A producer and its product to register.
#[derive(Debug, Clone, Copy)]
pub struct NewProduct<'a> {
    /// 2025 commune code in province 38.
    pub commune: &'a str,
    /// The producer's registration number (unique per test database).
    pub registration: &'a str,
    /// The product's name; the cooperative is named after it.
    pub name: &'a str,
    /// Product set, e.g. `rau-cu-qua-hat-tuoi`.
    pub subgroup: &'a str,
}

/// Registers a cooperative and its product, in the group of its product set
/// (`thuc-pham` for a code the taxonomy does not know).
pub async fn product(
    registry: &mut RegistryServiceClient<Channel>,
    token: &str,
    new: NewProduct<'_>,
) -> (Subject, Product) {
    let subject = Subject {
        kind: SubjectKind::Cooperative as i32,
        legal_name: format!("HTX {}", new.name),
        registration_number: new.registration.into(),
        representative: Some(Representative {
            full_name: "Lê Thị Lan".into(),
            ..Default::default()
        }),
        commune_code: new.commune.into(),
        ..Default::default()
    };
    let subject = registry
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(subject),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("create subject")
        .into_inner()
        .subject
        .expect("subject");
    let group = ocop_kit::taxonomy::current(new.subgroup)
        .map(|s| s.group)
        .or_else(|| {
            ocop_kit::taxonomy::LEGACY
                .iter()
                .find(|l| l.code == new.subgroup)
                .map(|l| l.group)
        })
        .unwrap_or("thuc-pham");
    let product = Product {
        display_name: new.name.into(),
        group_code: group.into(),
        subgroup_code: new.subgroup.into(),
        ..Default::default()
    };
    let product = registry
        .create_product(authorized(
            CreateProductRequest {
                parent: subject.name.clone(),
                product: Some(product),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("create product")
        .into_inner()
        .product
        .expect("product");
    (subject, product)
}

/// What round to run.
#[derive(Debug, Clone, Copy)]
pub struct RoundPlan {
    /// PROVINCE or DISTRICT (the products' province), or CENTRAL (the ministry).
    pub level: RoundLevel,
    /// The round's date.
    pub date: (i32, u8, u8),
    /// Batch number (distinct per round of a year).
    pub batch: i32,
    /// The stars every member's sheet aims at (see [`answers_for`]).
    pub stars: i32,
    /// Knock the entry out before scoring.
    pub disqualify: bool,
    /// Stop before publishing.
    pub publish: bool,
    /// The council decides by written opinions (re-rating under 26/2026).
    pub written_opinions: bool,
}

impl RoundPlan {
    /// A 2026 provincial round aiming at `stars`, published, decided under
    /// 148/1489 (before Decision 26/2026 took effect): it needs no dossier.
    pub fn province_2026(batch: i32, stars: i32) -> RoundPlan {
        RoundPlan {
            level: RoundLevel::Province,
            date: (2026, 5, 4),
            batch,
            stars,
            disqualify: false,
            publish: true,
            written_opinions: false,
        }
    }

    /// A 2026 central round (the ministry's, for 5 stars), published,
    /// decided under 148/1489 like [`RoundPlan::province_2026`].
    pub fn central_2026(batch: i32) -> RoundPlan {
        RoundPlan {
            level: RoundLevel::Central,
            date: (2026, 5, 20),
            ..RoundPlan::province_2026(batch, 5)
        }
    }

    /// A round of `level` under Decision 26/2026 decided on `date`, aiming at
    /// `stars`, published: its entries need dossiers (see [`run`]).
    pub fn under_26_2026(level: RoundLevel, batch: i32, date: (i32, u8, u8), stars: i32) -> RoundPlan {
        RoundPlan {
            level,
            date,
            batch,
            stars,
            disqualify: false,
            publish: true,
            written_opinions: false,
        }
    }
}

/// One entry of a round to run: the product, and under Decision 26/2026 its
/// dossier or nomination.
#[derive(Debug, Clone, Default)]
pub struct EntryPlan {
    /// `Entry.product`, `Entry.product_dossier`, `Entry.nomination`.
    pub entry: Entry,
    /// The total every member gives it ([`answers_totalling`]); the plan's
    /// stars ([`answers_for`]) when unset.
    pub points: Option<i32>,
    /// The product's province (a PROVINCE round's).
    pub province_code: String,
}

impl EntryPlan {
    /// An entry of `product` with `dossier` (empty: none), aiming at `points`.
    pub fn of(product: &Product, dossier: &str, points: Option<i32>) -> EntryPlan {
        EntryPlan {
            entry: Entry {
                product: product.name.clone(),
                product_dossier: dossier.to_owned(),
                ..Default::default()
            },
            points,
            province_code: product.province_code.clone(),
        }
    }

    /// A CENTRAL entry of the province's result `nomination`, aiming at `points`.
    pub fn nominated(result: &EvaluationResult, points: Option<i32>) -> EntryPlan {
        EntryPlan {
            entry: Entry {
                product: result.product.clone(),
                nomination: result.name.clone(),
                ..Default::default()
            },
            points,
            province_code: result.province_code.clone(),
        }
    }
}

/// What running a round gave.
pub struct Evaluated {
    /// The round, PUBLISHED (or SCORING when the plan stops before).
    pub round: EvaluationRound,
    /// One result per product, in the products' order; empty unless published.
    pub results: Vec<EvaluationResult>,
    /// The result names, in the products' order (published or not).
    pub result_names: Vec<String>,
    /// The entries as their commune's step left them, in the products' order.
    pub entries: Vec<Entry>,
}

/// Runs `plan` with one entry per product (rounds before Decision 26/2026,
/// which need no dossier).
pub async fn evaluate(
    env: &TestEnv,
    evaluation: &mut EvaluationServiceClient<Channel>,
    officer: &str,
    products: &[&Product],
    plan: RoundPlan,
) -> Evaluated {
    let entries: Vec<EntryPlan> = products.iter().map(|p| EntryPlan::of(p, "", None)).collect();
    run(env, evaluation, officer, &entries, plan).await
}

/// Runs `plan` with `entries`: creates and opens the round, enters each,
/// has its commune do its step (the 4 criteria under 1489, the report of
/// Mẫu 03 under 26/2026, dated the day the dossier was filed), scores each
/// on its own pinned set and publishes.
pub async fn run(
    env: &TestEnv,
    evaluation: &mut EvaluationServiceClient<Channel>,
    officer: &str,
    planned: &[EntryPlan],
    plan: RoundPlan,
) -> Evaluated {
    let (year, month, day) = plan.date;
    // A CENTRAL round is the ministry's: no province, and a national council.
    let province = (plan.level != RoundLevel::Central).then(|| planned[0].province_code.as_str());
    let round = EvaluationRound {
        level: plan.level as i32,
        year,
        batch: plan.batch,
        province_code: province.unwrap_or_default().into(),
        decision_date: Some(Date {
            year,
            month: month.into(),
            day: day.into(),
        }),
        council: COUNCIL
            .iter()
            .map(|(user, role)| CouncilMember {
                user: (*user).into(),
                role: *role as i32,
            })
            .collect(),
        batch_basis: if plan.batch >= 3 && (year, month, day) >= (2026, 5, 22) {
            "Quyết định 45/QĐ-UBND ban hành Quy chế hoạt động của Hội đồng; Kế hoạch 12/KH-UBND".into()
        } else {
            String::new()
        },
        written_opinions: plan.written_opinions,
        ..Default::default()
    };
    let round = evaluation
        .create_evaluation_round(authorized(
            CreateEvaluationRoundRequest {
                evaluation_round: Some(round),
                request_id: String::new(),
            },
            officer,
        ))
        .await
        .expect("create round")
        .into_inner()
        .evaluation_round
        .expect("round");
    let open = evaluation
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag.clone(),
            },
            officer,
        ))
        .await
        .expect("open")
        .into_inner()
        .evaluation_round
        .expect("round");
    let mut entries = Vec::new();
    for planned in planned {
        let entry = evaluation
            .create_entry(authorized(
                CreateEntryRequest {
                    parent: round.name.clone(),
                    entry: Some(planned.entry.clone()),
                    request_id: String::new(),
                },
                officer,
            ))
            .await
            .expect("enter")
            .into_inner()
            .entry
            .expect("entry");
        let commune = || {
            env.signer
                .issue("can-bo-xa", "commune_officer", province, Some(&entry.commune_code), 600)
                .expect("token")
        };
        let entry = match entry.commune_step() {
            CommuneStep::FourCriteria => evaluation
                .record_commune_assessment(authorized(
                    RecordCommuneAssessmentRequest {
                        name: entry.name.clone(),
                        commune_assessment: Some(CommuneAssessment {
                            local_origin: true,
                            local_labour: true,
                            local_idea: true,
                            local_identity: true,
                            report: "Biên bản họp UBND xã".into(),
                            ..Default::default()
                        }),
                    },
                    &commune(),
                ))
                .await
                .expect("commune assessment")
                .into_inner()
                .entry
                .expect("entry"),
            CommuneStep::Report => evaluation
                .record_commune_report(authorized(
                    RecordCommuneReportRequest {
                        name: entry.name.clone(),
                        commune_report: Some(commune_report(entry.dossier_submitted.expect("a dossier's day"))),
                    },
                    &commune(),
                ))
                .await
                .expect("commune report")
                .into_inner()
                .entry
                .expect("entry"),
            _ => entry,
        };
        if plan.disqualify {
            evaluation
                .disqualify_entry(authorized(
                    DisqualifyEntryRequest {
                        name: entry.name.clone(),
                        reason: "Không đạt tiêu chí bắt buộc về an toàn thực phẩm".into(),
                    },
                    officer,
                ))
                .await
                .expect("disqualify");
        }
        entries.push(entry);
    }
    let scoring = evaluation
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: open.etag,
            },
            officer,
        ))
        .await
        .expect("start scoring")
        .into_inner()
        .evaluation_round
        .expect("round");
    let mut sheets = Vec::new();
    for (entry, planned) in entries.iter().zip(planned) {
        let set = evaluation
            .get_criteria_set(authorized(
                GetCriteriaSetRequest {
                    name: entry.criteria_set.clone(),
                },
                officer,
            ))
            .await
            .expect("criteria set")
            .into_inner()
            .criteria_set
            .expect("set");
        let answers = match planned.points {
            Some(points) => answers_totalling(&set, points)
                .unwrap_or_else(|| panic!("{} cannot total {points} with its markers met", set.name)),
            None => answers_for(&set, plan.stars),
        };
        sheets.push(answers);
    }
    for (user, _) in COUNCIL {
        let token = env
            .signer
            .issue(user, "council_member", province, None, 600)
            .expect("token");
        for (entry, answers) in entries.iter().zip(&sheets) {
            let sheet = evaluation
                .save_score_sheet(authorized(
                    SaveScoreSheetRequest {
                        entry: entry.name.clone(),
                        answers: answers.clone(),
                        etag: String::new(),
                    },
                    &token,
                ))
                .await
                .expect("save sheet")
                .into_inner()
                .score_sheet
                .expect("sheet");
            evaluation
                .submit_score_sheet(authorized(
                    SubmitScoreSheetRequest {
                        name: sheet.name,
                        etag: sheet.etag,
                        request_id: String::new(),
                    },
                    &token,
                ))
                .await
                .expect("submit sheet");
        }
    }
    let result_names: Vec<String> = entries.iter().map(|e| format!("{}/result", e.name)).collect();
    if !plan.publish {
        return Evaluated {
            round: scoring,
            results: Vec::new(),
            result_names,
            entries,
        };
    }
    let published = evaluation
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: round.name.clone(),
                etag: scoring.etag,
            },
            officer,
        ))
        .await
        .expect("publish")
        .into_inner();
    let results = result_names
        .iter()
        .map(|name| {
            published
                .results
                .iter()
                .find(|r| &r.name == name)
                .cloned()
                .expect("every entry has a result")
        })
        .collect();
    Evaluated {
        round: published.evaluation_round.expect("round"),
        results,
        result_names,
        entries,
    }
}

/// The province's chairman approves the nominated result `result` on
/// `approved`, and the province proposes it to the ministry on `proposed`
/// (Decision 26/2026 Điều 7.3.e).
pub async fn nominate(
    evaluation: &mut EvaluationServiceClient<Channel>,
    officer: &str,
    result: &str,
    (ay, am, ad): (i32, i32, i32),
    (py, pm, pd): (i32, i32, i32),
) -> EvaluationResult {
    evaluation
        .approve_nomination(authorized(
            ApproveNominationRequest {
                name: result.to_owned(),
                approval: Some(ProvinceDecision {
                    reference: "Quyết định 2345/QĐ-UBND phê duyệt kết quả".into(),
                    date: Some(Date {
                        year: ay,
                        month: am,
                        day: ad,
                    }),
                    ..Default::default()
                }),
            },
            officer,
        ))
        .await
        .expect("approve");
    evaluation
        .propose_nomination(authorized(
            ProposeNominationRequest {
                name: result.to_owned(),
                proposal: Some(ProvinceDecision {
                    reference: "Công văn 678/UBND-NN đề nghị đánh giá 5 sao".into(),
                    date: Some(Date {
                        year: py,
                        month: pm,
                        day: pd,
                    }),
                    ..Default::default()
                }),
            },
            officer,
        ))
        .await
        .expect("propose")
        .into_inner()
        .result
        .expect("result")
}

/// Issues the certificate of published result `result`, decided on `date`.
pub async fn certify(
    certification: &mut CertificationServiceClient<Channel>,
    officer: &str,
    result: &str,
    (year, month, day): (i32, i32, i32),
) -> Certificate {
    certification
        .issue_certificate(authorized(
            IssueCertificateRequest {
                result: result.to_owned(),
                decision_date: Some(Date { year, month, day }),
                ..Default::default()
            },
            officer,
        ))
        .await
        .expect("issue certificate")
        .into_inner()
        .certificate
        .expect("certificate")
}
