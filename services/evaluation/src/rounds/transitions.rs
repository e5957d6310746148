//! A round's life before publication: DRAFT → OPEN → SCORING, or CANCELLED
//! from any of them. (SCORING → PUBLISHED computes the results: `publish.rs`.)
//! Each step locks the round, checks the caller, the etag and the state, and
//! writes the audit and outbox rows in the same transaction.

use ocop_kit::audit;
use ocop_kit::auth::{Principal, Role};
use ocop_kit::jurisdiction::Jurisdiction;
use ocop_kit::{Error, Result};
use ocop_proto::evaluation::v1::EvaluationRound;
use sqlx::{PgConnection, PgPool};

use crate::rounds::{self, Row, State, check_version, parse_name, require_organiser, round_columns};

/// DRAFT → OPEN, once the council has a chair and at least 3 seats.
pub async fn open(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    etag: &str,
) -> Result<EvaluationRound> {
    step(db, here, who, name, etag, Step::Open).await
}

/// OPEN → SCORING: entries close and the council scores. Needs an entry.
pub async fn start_scoring(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    etag: &str,
) -> Result<EvaluationRound> {
    step(db, here, who, name, etag, Step::StartScoring).await
}

/// DRAFT, OPEN or SCORING → CANCELLED, with the reason. A published round
/// cannot be cancelled: certificates may already rest on its results.
pub async fn cancel(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    etag: &str,
    reason: &str,
) -> Result<EvaluationRound> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 1000 {
        return Err(Error::invalid(
            "reason",
            "required, up to 1,000 characters: why the round is cancelled (it is kept on the round)",
        ));
    }
    step(db, here, who, name, etag, Step::Cancel(reason)).await
}

enum Step<'a> {
    Open,
    StartScoring,
    Cancel(&'a str),
}

impl Step<'_> {
    fn method(&self) -> &'static str {
        match self {
            Step::Open => "OpenEvaluationRound",
            Step::StartScoring => "StartScoring",
            Step::Cancel(_) => "CancelEvaluationRound",
        }
    }

    /// The states it leaves from, and how to say so when the round is elsewhere.
    fn from(&self) -> (&'static [State], &'static str) {
        match self {
            Step::Open => (&[State::Draft], "only a draft round opens"),
            Step::StartScoring => (&[State::Open], "scoring starts on an open round"),
            Step::Cancel(_) => (
                &[State::Draft, State::Open, State::Scoring],
                "only a round not yet published can be cancelled",
            ),
        }
    }

    fn to(&self) -> State {
        match self {
            Step::Open => State::Open,
            Step::StartScoring => State::Scoring,
            Step::Cancel(_) => State::Cancelled,
        }
    }

    /// What the step needs beyond the state.
    async fn check(&self, tx: &mut PgConnection, name: &str, round: &Row) -> Result<()> {
        match self {
            Step::Open => {
                let chairs = rounds::seats(round).filter(|(_, role)| *role == "chair").count();
                let seats = rounds::seats(round).count();
                if chairs != 1 || seats < 3 {
                    return Err(Error::failed_precondition(
                        "COUNCIL_INCOMPLETE",
                        format!(
                            "{name} has {seats} seat(s) and {chairs} chair(s); a council needs one chair and at least 3 seats"
                        ),
                    ));
                }
            }
            Step::StartScoring => {
                let entries: i64 = sqlx::query_scalar("SELECT count(*) FROM entries WHERE round_id = $1")
                    .bind(&round.id)
                    .fetch_one(&mut *tx)
                    .await?;
                if entries == 0 {
                    return Err(Error::failed_precondition(
                        "NO_ENTRIES",
                        format!("{name} has no entries to score"),
                    ));
                }
            }
            Step::Cancel(_) => {}
        }
        Ok(())
    }
}

async fn step(
    db: &PgPool,
    here: &Jurisdiction,
    who: &Principal,
    name: &str,
    etag: &str,
    step: Step<'_>,
) -> Result<EvaluationRound> {
    who.require(&[Role::ProvinceOfficer, Role::NationalOfficer])?;
    let id = parse_name("name", name)?;
    let mut tx = db.begin().await?;
    let current = rounds::lock(&mut tx, &id).await?;
    require_organiser(here, who, &current.level, &current.province_code)?;
    let before = check_version(name, etag, current.version)?;
    let (from, rule) = step.from();
    if !from.contains(&current.state) {
        return Err(Error::failed_precondition(
            "WRONG_ROUND_STATE",
            format!("{name} is {}; {rule}", current.state),
        ));
    }
    step.check(&mut tx, name, &current).await?;
    let reason = match step {
        Step::Cancel(reason) => reason,
        _ => "",
    };
    let row: Row = sqlx::query_as(concat!(
        "UPDATE rounds SET state = $2, cancel_reason = $3, version = version + 1, update_time = now() WHERE id = $1 RETURNING ",
        round_columns!()
    ))
    .bind(&id)
    .bind(step.to().as_str())
    .bind(reason)
    .fetch_one(&mut *tx)
    .await?;
    let proto = row.to_proto();
    audit::record(
        &mut tx,
        who,
        rounds::change(step.method(), "updated", &row, &before, &proto, ""),
    )
    .await?;
    tx.commit().await?;
    Ok(proto)
}
