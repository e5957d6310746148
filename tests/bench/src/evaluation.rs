//! Issue 4's figures: SaveScoreSheet and SubmitScoreSheet latency with 32
//! requests in flight (all sheets saved, then all submitted), and publishing a provincial round of 500 entries ×
//! 7 members' sheets, end to end. Uses rounds of 2026 decided under Decision
//! 26/2026 (additional batches of 2026-11-16), so the entries are scored on
//! its sheets: the bench products' set (gia-vi-khac) maps to a 2026 set, and
//! each entry has its commune's report (Mẫu 03) before scoring, as 26/2026
//! requires.

use std::time::{Duration, Instant};

use ocop_proto::common::v1::Date;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::evaluation::v1::*;
use ocop_testkit::{TestEnv, authorized};
use tonic::transport::Channel;

const MEMBERS: usize = 7;
const ENTRIES: usize = 500;

/// What one run measured.
pub(crate) struct Run {
    /// SaveScoreSheet latencies (32 in flight).
    pub save: Vec<Duration>,
    /// SubmitScoreSheet latencies (32 in flight).
    pub submit: Vec<Duration>,
    /// PublishEvaluationRound, end to end.
    pub publish: Duration,
    /// The criteria set the entries were scored on, and its number of criteria.
    pub set: (String, usize),
}

/// The round's date: batch 2 of 2026 is decided from 30/6, and additional
/// batches (3 on) take what was proposed before their own date.
const DECIDED: Date = Date {
    year: 2026,
    month: 11,
    day: 16,
};
/// The day of each commune's report, before the round.
const REPORTED: Date = Date {
    year: 2026,
    month: 10,
    day: 1,
};

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

/// One round (additional batch `2 + run` of 2026): 500 entries, each with
/// its commune's report, 7 members × 500 sheets saved and submitted 32 at a
/// time, then published.
pub(crate) async fn run(env: &TestEnv, url: &str, run: i32) -> anyhow::Result<Run> {
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
        year: DECIDED.year,
        batch: 2 + run,
        province_code: "38".into(),
        decision_date: Some(DECIDED),
        council,
        batch_basis: "Quyết định 45/QĐ-UBND ban hành Quy chế hoạt động của Hội đồng; Kế hoạch 12/KH-UBND".into(),
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
    // Decision 26/2026 Điều 7.2: each commune reports before the province scores.
    for chunk in entries.chunks(16) {
        let mut tasks = Vec::new();
        for entry in chunk {
            let mut eval = EvaluationServiceClient::new(channel.clone());
            let token = env.signer.issue(
                "can-bo-xa",
                "commune_officer",
                Some("38"),
                Some(&entry.commune_code),
                600,
            )?;
            let name = entry.name.clone();
            tasks.push(tokio::spawn(async move {
                eval.record_commune_report(authorized(
                    RecordCommuneReportRequest {
                        name,
                        commune_report: Some(ocop_testkit::flows::commune_report(REPORTED)),
                    },
                    &token,
                ))
                .await
            }));
        }
        for task in tasks {
            task.await??;
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
    anyhow::ensure!(
        set.decision() == Decision::Decision262026,
        "{} is not a sheet of Decision 26/2026",
        set.name
    );
    let criteria = set
        .parts
        .iter()
        .flat_map(|p| &p.sections)
        .map(|s| s.criteria.len())
        .sum();
    let set_of = (set.name.clone(), criteria);
    let answers = answers(&set);

    // 3,500 sheets, 32 requests in flight: all saved, then all submitted, so
    // that each phase measures one RPC under exactly that load.
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
    let jobs: Vec<(String, String)> = members
        .iter()
        .flat_map(|m| entries.iter().map(move |e| (m.clone(), e.name.clone())))
        .collect();
    let (tokens, eval_client) = (
        std::sync::Arc::new(tokens),
        EvaluationServiceClient::new(channel.clone()),
    );
    let (t, c) = (tokens.clone(), eval_client.clone());
    let (save, drafts) = in_flight(jobs, move |(member, entry)| {
        let (tokens, mut eval, answers) = (t.clone(), c.clone(), answers.clone());
        async move {
            let sheet = eval
                .save_score_sheet(authorized(
                    SaveScoreSheetRequest {
                        entry,
                        answers,
                        etag: String::new(),
                    },
                    &tokens[&member],
                ))
                .await?
                .into_inner()
                .score_sheet
                .unwrap_or_default();
            anyhow::Ok((member, sheet))
        }
    })
    .await?;
    let (t, c) = (tokens.clone(), eval_client.clone());
    let (submit, _) = in_flight(drafts, move |(member, sheet)| {
        let (tokens, mut eval) = (t.clone(), c.clone());
        async move {
            eval.submit_score_sheet(authorized(
                SubmitScoreSheetRequest {
                    name: sheet.name,
                    etag: sheet.etag,
                    ..Default::default()
                },
                &tokens[&member],
            ))
            .await?;
            anyhow::Ok(())
        }
    })
    .await?;
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
    Ok(Run {
        save,
        submit,
        publish,
        set: set_of,
    })
}

/// Runs `call` on every job with 32 in flight: each call's latency and output.
async fn in_flight<J, O, F, Fut>(jobs: Vec<J>, call: F) -> anyhow::Result<(Vec<Duration>, Vec<O>)>
where
    J: Send + 'static,
    O: Send + 'static,
    F: Fn(J) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<O>> + Send,
{
    let queue = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (queue, call) = (queue.clone(), call.clone());
        workers.push(tokio::spawn(async move {
            let (mut latencies, mut outputs) = (Vec::new(), Vec::new());
            loop {
                let job = queue.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.pop();
                let Some(job) = job else { break };
                let started = Instant::now();
                outputs.push(call(job).await?);
                latencies.push(started.elapsed());
            }
            anyhow::Ok((latencies, outputs))
        }));
    }
    let (mut latencies, mut outputs) = (Vec::new(), Vec::new());
    for worker in workers {
        let (l, o) = worker.await??;
        latencies.extend(l);
        outputs.extend(o);
    }
    Ok((latencies, outputs))
}
