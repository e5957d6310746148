//! The OCOP cycle over gRPC, for tests of the services downstream of it: a
//! producer and its product in the registry, then a round in the evaluation
//! service scored by a council of three and published.

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

/// Registers a cooperative and its product (group `thuc-pham`).
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
    let product = Product {
        display_name: new.name.into(),
        group_code: "thuc-pham".into(),
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
}

impl RoundPlan {
    /// A 2026 provincial round aiming at `stars`, published.
    pub fn province_2026(batch: i32, stars: i32) -> RoundPlan {
        RoundPlan {
            level: RoundLevel::Province,
            date: (2026, 6, 1),
            batch,
            stars,
            disqualify: false,
            publish: true,
        }
    }

    /// A 2026 central round (the ministry's, for 5 stars), published.
    pub fn central_2026(batch: i32) -> RoundPlan {
        RoundPlan {
            level: RoundLevel::Central,
            date: (2026, 9, 1),
            ..RoundPlan::province_2026(batch, 5)
        }
    }
}

/// Answers for a product of `stars` stars: on each criterion the option
/// nearest a share of its maximum (60% for 3 stars, 80% for 4, 96% for 5),
/// raised to the least option the 148 star markers ask for at that level.
pub fn answers_for(set: &CriteriaSet, stars: i32) -> Vec<Answer> {
    let share = match stars {
        ..=3 => 0.6,
        4 => 0.8,
        _ => 0.96,
    };
    set.parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .map(|c| {
            let aim = f64::from(c.max_points) * share;
            let nearest = c
                .options
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| {
                    let (da, db) = ((f64::from(a.points) - aim).abs(), (f64::from(b.points) - aim).abs());
                    da.total_cmp(&db).then(b.points.cmp(&a.points))
                })
                .map(|(i, o)| (i, o.points))
                .unwrap_or((0, 0));
            let marked = c
                .options
                .iter()
                .enumerate()
                .filter(|(_, o)| (1..=stars).contains(&o.star_marker))
                .map(|(i, o)| (i, o.points))
                .max_by_key(|(_, p)| *p);
            let (index, _) = match marked {
                Some(m) if m.1 > nearest.1 => m,
                _ => nearest,
            };
            Answer {
                criterion: c.code.clone(),
                options: vec![index as i32],
            }
        })
        .collect()
}

/// What running a round gave.
pub struct Evaluated {
    /// The round, PUBLISHED (or SCORING when the plan stops before).
    pub round: EvaluationRound,
    /// One result per product, in the products' order; empty unless published.
    pub results: Vec<EvaluationResult>,
    /// The result names, in the products' order (published or not).
    pub result_names: Vec<String>,
}

/// Runs `plan` with one entry per product.
pub async fn evaluate(
    env: &TestEnv,
    evaluation: &mut EvaluationServiceClient<Channel>,
    officer: &str,
    products: &[&Product],
    plan: RoundPlan,
) -> Evaluated {
    let (year, month, day) = plan.date;
    // A CENTRAL round is the ministry's: no province, and a national council.
    let province = (plan.level != RoundLevel::Central).then(|| products[0].province_code.clone());
    let province = province.as_deref();
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
    for product in products {
        let entry = evaluation
            .create_entry(authorized(
                CreateEntryRequest {
                    parent: round.name.clone(),
                    entry: Some(Entry {
                        product: product.name.clone(),
                        ..Default::default()
                    }),
                    request_id: String::new(),
                },
                officer,
            ))
            .await
            .expect("enter")
            .into_inner()
            .entry
            .expect("entry");
        if plan.level == RoundLevel::Province && (year, month, day) >= (2025, 7, 6) {
            let commune = env
                .signer
                .issue("can-bo-xa", "commune_officer", province, Some(&entry.commune_code), 600)
                .expect("token");
            evaluation
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
                    &commune,
                ))
                .await
                .expect("commune assessment");
        }
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
    let set = evaluation
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: entries[0].criteria_set.clone(),
            },
            officer,
        ))
        .await
        .expect("criteria set")
        .into_inner()
        .criteria_set
        .expect("set");
    let answers = answers_for(&set, plan.stars);
    for (user, _) in COUNCIL {
        let token = env
            .signer
            .issue(user, "council_member", province, None, 600)
            .expect("token");
        for entry in &entries {
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
    }
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
