//! Re-rating after 36 months under Decision 26/2026 (Điều 7.6): the holder's
//! dossier is accepted by the certification service, inside the window of
//! 180 to 120 days before the certificate's end (`certificates/{code}/reRating`).
//! That accepted application is what lets the product into a re-rating
//! round: the entry names it, it is read over gRPC with the caller's token
//! (as the registry is for the dossier), and it is consumed by one entry.
//! The entry keeps the day its result is due, 45 days from the complete
//! dossier. A round whose council decides by written opinions, without a
//! meeting, takes re-rating entries only.

use ocop_kit::client::{Bearer, Remote, TracedChannel, with_token};
use ocop_kit::date;
use ocop_kit::regime::Regime;
use ocop_kit::{Error, Result};
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::certification::v1::{GetReRatingApplicationRequest, ReRatingState};
use time::Date;

use crate::rounds;

/// The certification service's answer about an application, as an error of
/// `entry.re_rating_application`.
const CERTIFICATION: Remote = Remote {
    service: "certification",
    refused: "CERTIFICATION_REFUSED",
    unavailable: "CERTIFICATION_UNAVAILABLE",
};

/// The rule, as refusals cite it.
const ARTICLE: &str = "Decision 26/2026 Điều 7.6";

/// What a re-rating entry consumes.
#[derive(Debug, Clone)]
pub struct Consumed {
    /// `certificates/{code}/reRating`.
    pub application: String,
    /// Its result is due by this day.
    pub decide_by: Option<Date>,
}

/// Checks the entry's `application` against its dossier's `kind` and rules
/// and, for a re-rating under 26/2026, reads it from the certification
/// service: FILED and of `product`. `None` when the entry is no re-rating.
pub async fn check(
    certification: &CertificationServiceClient<TracedChannel>,
    bearer: &Bearer,
    round: &rounds::Row,
    regime: Regime,
    kind: &str,
    product: &str,
    application: &str,
) -> Result<Option<Consumed>> {
    let application = application.trim();
    let re_rating = kind == "re_rating" && regime == Regime::D26_2026;
    if round.written_opinions && !re_rating {
        return Err(Error::failed_precondition(
            "WRITTEN_OPINIONS_RE_RATING_ONLY",
            format!(
                "evaluationRounds/{} is decided by written opinions, which {ARTICLE} allows for re-rating only; \
                 enter a re-rating dossier under Decision 26/2026, or use a round that meets",
                round.id
            ),
        ));
    }
    if !re_rating {
        if !application.is_empty() {
            return Err(Error::invalid(
                "entry.re_rating_application",
                "only a re-rating dossier under Decision 26/2026 consumes a re-rating application; leave it empty",
            ));
        }
        return Ok(None);
    }
    if application.is_empty() {
        return Err(Error::invalid(
            "entry.re_rating_application",
            format!(
                "required with a re-rating dossier: the holder's application accepted in its window \
                 (`certificates/{{code}}/reRating`, see CreateReRatingApplication; {ARTICLE})"
            ),
        ));
    }
    let shaped = application
        .strip_prefix("certificates/")
        .and_then(|r| r.strip_suffix("/reRating"))
        .is_some_and(|code| !code.is_empty() && !code.contains('/'));
    if !shaped {
        return Err(Error::invalid(
            "entry.re_rating_application",
            format!("`{application}` is not a re-rating application; expected `certificates/{{code}}/reRating`"),
        ));
    }
    let found = certification
        .clone()
        .get_re_rating_application(with_token(
            GetReRatingApplicationRequest {
                name: application.to_owned(),
            },
            bearer,
        ))
        .await
        .map_err(|s| CERTIFICATION.error(s, application, "entry.re_rating_application"))?
        .into_inner()
        .re_rating_application
        .ok_or_else(|| Error::internal("certification answered without an application"))?;
    if found.product != product {
        return Err(Error::invalid(
            "entry.re_rating_application",
            format!("{application} re-rates {}, not {product}", found.product),
        ));
    }
    if found.state() != ReRatingState::Filed {
        return Err(Error::failed_precondition(
            "RE_RATING_NOT_ACCEPTED",
            format!(
                "{application} is {}: only an application accepted and awaiting its result brings the product \
                 into a re-rating round ({ARTICLE})",
                state_words(found.state())
            ),
        )
        .with_metadata("application", application.to_owned()));
    }
    let decide_by = found
        .decide_by
        .as_ref()
        .map(|d| date::from_proto("re_rating_application.decide_by", d))
        .transpose()?;
    Ok(Some(Consumed {
        application: application.to_owned(),
        decide_by,
    }))
}

fn state_words(state: ReRatingState) -> &'static str {
    match state {
        ReRatingState::Filed => "filed",
        ReRatingState::ReCertified => "closed: the product was certified again",
        ReRatingState::NotReCertified => "closed without a new certificate",
        ReRatingState::Withdrawn => "withdrawn",
        ReRatingState::Unspecified => "in no known state",
    }
}

/// Claims `application` for a new entry inside `tx`: refused when an entry
/// of a round not cancelled consumed it. The lock serialises two entries of
/// one application until the first commits.
pub async fn claim(tx: &mut sqlx::PgConnection, application: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 26))")
        .bind(application)
        .execute(&mut *tx)
        .await?;
    let by: Option<(String, String)> = sqlx::query_as(
        "SELECT e.round_id, e.id FROM entries e JOIN rounds r ON r.id = e.round_id
          WHERE e.re_rating_application = $1 AND r.state <> 'cancelled' LIMIT 1",
    )
    .bind(application)
    .fetch_optional(&mut *tx)
    .await?;
    match by {
        None => Ok(()),
        Some((round, entry)) => {
            let entry = format!("evaluationRounds/{round}/entries/{entry}");
            Err(Error::failed_precondition(
                "RE_RATING_APPLICATION_CONSUMED",
                format!("{application} brought its product into {entry} already; an application is consumed once"),
            )
            .with_metadata("entry", entry))
        }
    }
}
