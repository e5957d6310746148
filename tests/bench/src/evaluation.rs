//! Issue 4's figures: SubmitScoreSheet latency with 32 council members
//! submitting at once, and publishing a provincial round of 500 entries ×
//! 7 members' sheets, end to end. Uses 2022 rounds (Decision 1048), whose
//! sheet for the bench products' set (gia-vi-khac) has 31 criteria.

use std::time::{Duration, Instant};

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_testkit::{TestEnv, authorized};
use tonic::transport::Channel;

const MEMBERS: usize = 7;
const ENTRIES: usize = 500;

/// What one run measured.
pub struct Run {
    /// SubmitScoreSheet latencies.
    pub submit: Vec<Duration>,
    /// PublishEvaluationRound, end to end.
    pub publish: Duration,
}

fn answers(set: &CriteriaSet) -> Vec<Answer> {
    set.parts
        .iter()
        .flat_map(|p| &p.sections)
        .flat_map(|s| &s.criteria)
        .map(|c| {
            let options = if c.scoring == Scoring::Additive as i32 {
                (0..c.options.len() as i32).collect()
            } else {
                vec![(0..c.options.len()).max_by_key(|&i| c.options[i].points).unwrap_or(0) as i32]
            };
            Answer {
                criterion: c.code.clone(),
                options,
            }
        })
        .collect()
}

/// One round: 500 entries, 7 members × 500 sheets saved and submitted 32 at a time, then published.
pub async fn run(env: &TestEnv, url: &str, batch: i32) -> anyhow::Result<Run> {
    let channel = Channel::from_shared(url.to_owned())?.connect().await?;
    let mut eval = EvaluationServiceClient::new(channel.clone());
    let officer = env.token("province_officer", Some("38"), None);
    let members: Vec<String> = (1..=MEMBERS).map(|i| format!("thanh-vien-{i}")).collect();
    let council = members
        .iter()
        .enumerate()
        .map(|(i, m)| CouncilMember {
            user: m.clone(),
            role: if i == 0 {
                CouncilRole::Chair
            } else {
                CouncilRole::Member
            } as i32,
        })
        .collect();
    let round = EvaluationRound {
        level: RoundLevel::Province as i32,
        year: 2022,
        batch,
        province_code: "38".into(),
        decision_date: Some(Date {
            year: 2022,
            month: 6,
            day: 1,
        }),
        council,
        ..Default::default()
    };
    let round = eval
        .create_evaluation_round(authorized(
            CreateEvaluationRoundRequest {
                evaluation_round: Some(round),
                request_id: String::new(),
            },
            &officer,
        ))
        .await?
        .into_inner()
        .evaluation_round
        .unwrap_or_default();
    let round = eval
        .open_evaluation_round(authorized(
            OpenEvaluationRoundRequest {
                name: round.name.clone(),
                etag: round.etag,
            },
            &officer,
        ))
        .await?
        .into_inner()
        .evaluation_round
        .unwrap_or_default();

    // 500 entries, 16 at a time (each is checked with the registry).
    let mut entries = Vec::new();
    for chunk in (1..=ENTRIES).collect::<Vec<_>>().chunks(16) {
        let mut tasks = Vec::new();
        for &i in chunk {
            let (mut eval, officer, parent) = (
                EvaluationServiceClient::new(channel.clone()),
                officer.clone(),
                round.name.clone(),
            );
            let product = format!("subjects/bench-s{}/products/p{i}", i % 2000 + 1);
            tasks.push(tokio::spawn(async move {
                eval.create_entry(authorized(
                    CreateEntryRequest {
                        parent,
                        entry: Some(Entry {
                            product,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    },
                    &officer,
                ))
                .await
            }));
        }
        for task in tasks {
            entries.push(task.await??.into_inner().entry.unwrap_or_default());
        }
    }
    let round = eval
        .start_scoring(authorized(
            StartScoringRequest {
                name: round.name.clone(),
                etag: round.etag,
            },
            &officer,
        ))
        .await?
        .into_inner()
        .evaluation_round
        .unwrap_or_default();
    let set = eval
        .get_criteria_set(authorized(
            GetCriteriaSetRequest {
                name: entries[0].criteria_set.clone(),
            },
            &officer,
        ))
        .await?
        .into_inner()
        .criteria_set
        .unwrap_or_default();
    let answers = answers(&set);

    // 3,500 sheets: save then submit, 32 members' requests in flight.
    let jobs: Vec<(String, String)> = members
        .iter()
        .flat_map(|m| entries.iter().map(move |e| (m.clone(), e.name.clone())))
        .collect();
    let tokens: std::collections::HashMap<String, String> = members
        .iter()
        .map(|m| {
            (
                m.clone(),
                env.signer
                    .issue(m, "council_member", Some("38"), None, 3600)
                    .unwrap_or_default(),
            )
        })
        .collect();
    let queue = std::sync::Arc::new(tokio::sync::Mutex::new(jobs));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (queue, tokens, answers, mut eval) = (
            queue.clone(),
            tokens.clone(),
            answers.clone(),
            EvaluationServiceClient::new(channel.clone()),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some((member, entry)) = queue.lock().await.pop() else {
                    break;
                };
                let token = &tokens[&member];
                let draft = eval
                    .save_score_sheet(authorized(
                        SaveScoreSheetRequest {
                            entry,
                            answers: answers.clone(),
                            etag: String::new(),
                        },
                        token,
                    ))
                    .await?
                    .into_inner()
                    .score_sheet
                    .unwrap_or_default();
                let started = Instant::now();
                eval.submit_score_sheet(authorized(
                    SubmitScoreSheetRequest {
                        name: draft.name,
                        etag: draft.etag,
                        ..Default::default()
                    },
                    token,
                ))
                .await?;
                latencies.push(started.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut submit = Vec::new();
    for worker in workers {
        submit.extend(worker.await??);
    }
    let started = Instant::now();
    let published = eval
        .publish_evaluation_round(authorized(
            PublishEvaluationRoundRequest {
                name: round.name,
                etag: round.etag,
            },
            &officer,
        ))
        .await?
        .into_inner();
    let publish = started.elapsed();
    anyhow::ensure!(
        published.results.len() == ENTRIES,
        "published {} results",
        published.results.len()
    );
    Ok(Run { submit, publish })
}
