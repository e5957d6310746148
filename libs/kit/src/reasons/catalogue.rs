//! The entries of the catalogue, one per reason, sorted by name. A new
//! reason goes here first; `OCOP_BLESS=1 cargo test -p ocop-kit reasons`
//! then rewrites the README's table.

use tonic::Code;

use super::Reason;

const fn r(name: &'static str, code: Code, meaning: &'static str) -> Reason {
    Reason { name, code, meaning }
}

use Code::{
    Aborted as AB, AlreadyExists as AE, DeadlineExceeded as DE, FailedPrecondition as FP, Internal as IN,
    InvalidArgument as IA, NotFound as NF, PermissionDenied as PD, ResourceExhausted as RE, Unauthenticated as UA,
    Unavailable as UN,
};

/// Every reason, sorted by name (a test keeps it sorted and unique).
pub const CATALOGUE: &[Reason] = &[
    r(
        "ALREADY_APPROVED",
        FP,
        "The nomination already has the province chairman's approval; it is approved once.",
    ),
    r(
        "ALREADY_CARRIED",
        AE,
        "The sales point already carries this certified product.",
    ),
    r("ALREADY_ENTERED", AE, "The product is already entered in this round."),
    r(
        "ALREADY_EXISTS",
        AE,
        "A resource with this name (or unique attribute) exists; choose another id.",
    ),
    r(
        "ALREADY_PROPOSED",
        FP,
        "The nomination was already proposed to the ministry.",
    ),
    r(
        "ALREADY_REVIEWED",
        FP,
        "The idea registration was already accepted or rejected; it is reviewed once.",
    ),
    r(
        "AUTHORITY_NOT_IN_FORCE",
        FP,
        "The level named certified nothing on that day (e.g. districts after 2025-07-05).",
    ),
    r("BOOTH_TAKEN", AE, "The fair already has a booth with this label."),
    r(
        "CENTRAL_ONLY_NATIONALLY",
        FP,
        "5-star (central) certificates are issued on the national deployment only.",
    ),
    r(
        "CERTIFICATE_NOT_IN_FORCE",
        FP,
        "The certificate is expired, revoked or superseded; only one in force is acted on.",
    ),
    r(
        "CERTIFICATION_REFUSED",
        PD,
        "The certification service refused to show the caller the re-rating application named.",
    ),
    r(
        "CERTIFICATION_UNAVAILABLE",
        UN,
        "The certification service did not answer; retry shortly.",
    ),
    r(
        "CLIENT_CERT_REQUIRED",
        UA,
        "This caller must present its TLS client certificate (mutual TLS); configure the peer's tls.cert_file and tls.key_file.",
    ),
    r(
        "CLIENT_CERT_SUBJECT_MISMATCH",
        PD,
        "The client certificate may carry another subject's tokens only (tls.callers); use the token issued to that certificate's owner.",
    ),
    r(
        "CLIENT_CERT_UNKNOWN",
        PD,
        "The client certificate's name (SAN) is not in this deployment's tls.callers; ask its operator to add it.",
    ),
    r(
        "COMMUNE_ASSESSMENT_MISSING",
        FP,
        "Under Decision 1489 the commune assesses its criteria before the province scores.",
    ),
    r(
        "COMMUNE_REPORT_MISSING",
        FP,
        "Under Decision 26/2026 the commune reports on the dossier (Mẫu 03) before scoring.",
    ),
    r(
        "COMMUNE_REPORT_RECORDED",
        FP,
        "The entry already has its commune's report; a report is issued once.",
    ),
    r(
        "CONCURRENT_UPDATE",
        AB,
        "A concurrent change conflicted (serialization failure or deadlock); retry.",
    ),
    r(
        "CONSTRAINT_VIOLATION",
        IA,
        "A value breaks a check or not-null rule of the data model.",
    ),
    r(
        "COUNCIL_INCOMPLETE",
        FP,
        "The round's council needs one chair and at least 3 seats before scoring.",
    ),
    r(
        "DATABASE_UNAVAILABLE",
        UN,
        "The database is not reachable; retry after the RetryInfo delay.",
    ),
    r(
        "DOSSIER_AFTER_ROUND",
        FP,
        "The dossier was received after the round's decision date; enter it in a later round.",
    ),
    r(
        "ENTRY_AFTER_CUT_OFF",
        FP,
        "The round takes proposals before its cut-off day (Decision 26/2026 Điều 5).",
    ),
    r(
        "EVALUATION_REFUSED",
        PD,
        "The evaluation service refused to show the caller the result named.",
    ),
    r(
        "EVALUATION_UNAVAILABLE",
        UN,
        "The evaluation service did not answer; retry shortly.",
    ),
    r(
        "FEED_UNAVAILABLE",
        UN,
        "A change feed this service follows cannot be reached or opened.",
    ),
    r(
        "FIVE_STARS_CENTRAL_ONLY",
        FP,
        "Only the central level (the ministry) certifies 5 stars.",
    ),
    r(
        "HAS_CYCLE_RECORDS",
        FP,
        "The product has idea registrations or plans; set force to delete it anyway.",
    ),
    r(
        "HAS_PRODUCTS",
        FP,
        "The producer still has products; delete them first or set force.",
    ),
    r(
        "IDEA_NOT_ACCEPTED",
        FP,
        "A business plan needs an accepted idea registration.",
    ),
    r(
        "INSPECTION_CONCLUDED",
        FP,
        "The inspection is concluded; its outcome is recorded once.",
    ),
    r(
        "INTERNAL",
        IN,
        "A bug or an unexpected state; it is logged with the request's trace id.",
    ),
    r(
        "INVALID_FIELD",
        IA,
        "One or more fields break their rules; BadRequest names each field and what is allowed.",
    ),
    r(
        "INVALID_IMPORT",
        IA,
        "The CSV import has problems; the message counts them and the violations list the first.",
    ),
    r(
        "INVALID_VALUE",
        IA,
        "A value cannot be stored as its field's type (SQLSTATE class 22).",
    ),
    r(
        "MALFORMED_REQUEST",
        IA,
        "The request body is not the method's message (bad wire format, invalid UTF-8).",
    ),
    r(
        "MIRRORED_READ_ONLY",
        FP,
        "The resource is mirrored from another deployment; change it where it is owned.",
    ),
    r(
        "NATIONAL_CERTIFICATE_IN_FORCE",
        FP,
        "The product holds a national 5-star certificate in force; one certificate per product.",
    ),
    r(
        "NOMINATION_NOT_APPROVED",
        FP,
        "The nomination lacks the province chairman's approval (Decision 26/2026 Điều 7.3.e).",
    ),
    r(
        "NOMINATION_NOT_PROPOSED",
        FP,
        "The nomination is approved but not yet proposed to the ministry.",
    ),
    r(
        "NOT_CERTIFIABLE",
        FP,
        "The result cannot be certified (e.g. below 50 points, or knocked out).",
    ),
    r(
        "NOT_CERTIFIED",
        FP,
        "A sales point or fair carries only products with a certificate in force.",
    ),
    r(
        "NOT_NOMINATED",
        FP,
        "Only a provincial result of 90 points or more, not disqualified, goes to the ministry.",
    ),
    r("NOT_ON_COUNCIL", PD, "The caller does not sit on this round's council."),
    r(
        "NOT_THE_COMPETENT_AUTHORITY",
        PD,
        "The caller's level does not act on this certificate.",
    ),
    r(
        "NO_COMMUNE_ASSESSMENT",
        FP,
        "Commune assessments exist only from Decision 1489 on; the day is earlier.",
    ),
    r(
        "NO_CRITERIA_SET",
        FP,
        "No criteria set is in force for the product set on that day; import its sheet.",
    ),
    r(
        "NO_DISTRICTS",
        FP,
        "Districts were abolished on 2025-07-01; district rounds no longer open.",
    ),
    r("NO_ENTRIES", FP, "The round has no entries to score."),
    r(
        "NO_PROVINCE",
        PD,
        "The caller's token names no province, and this action needs one.",
    ),
    r(
        "NO_REVOCATION_PROPOSAL",
        FP,
        "The inspection proposes no revocation, so there is nothing to review.",
    ),
    r(
        "OUTSIDE_DEPLOYMENT",
        PD,
        "The write is for a province this deployment does not serve, whatever the token says.",
    ),
    r(
        "OUTSIDE_JURISDICTION",
        PD,
        "The resource is outside the caller's province (or commune, or district).",
    ),
    r(
        "OUTSIDE_ROUND_JURISDICTION",
        FP,
        "The product belongs to another province than the one the round evaluates.",
    ),
    r(
        "PLAN_NOT_ACCEPTED",
        FP,
        "Support is recorded on accepted business plans only.",
    ),
    r("PRODUCT_DELETED", FP, "The product was deleted in the registry."),
    r(
        "PRODUCT_SET_REMOVED",
        FP,
        "The product's set has had no criteria sheet since Decision 148/2023; reclassify it.",
    ),
    r(
        "PROPOSAL_ALREADY_REVIEWED",
        FP,
        "The revocation proposal was already accepted or rejected; it is reviewed once.",
    ),
    r(
        "PROVINCIAL_ONLY_PROVINCIALLY",
        FP,
        "Provincial certificates are issued on the province's own deployment.",
    ),
    r(
        "QUERY_CANCELED",
        DE,
        "The database query was cancelled before it finished (statement timeout or deadline).",
    ),
    r(
        "QUORUM_NOT_MET",
        FP,
        "Too few council sheets are submitted to publish the round.",
    ),
    r(
        "RATE_LIMITED",
        RE,
        "Too many calls without a token from this address; retry after the RetryInfo delay.",
    ),
    r(
        "REFERENCE_VIOLATION",
        FP,
        "A referenced resource is missing or still referenced (foreign key).",
    ),
    r(
        "REGISTRATION_NUMBER_TAKEN",
        AE,
        "The business registration number is already registered to another producer.",
    ),
    r(
        "REGISTRY_REFUSED",
        PD,
        "The registry refused to show the caller the product or producer named.",
    ),
    r(
        "REGISTRY_UNAVAILABLE",
        UN,
        "The registry did not answer; retry shortly.",
    ),
    r(
        "REQUEST_ID_REUSED",
        FP,
        "The request_id was already used for another request; send a new UUID.",
    ),
    r(
        "RESOURCE_NOT_FOUND",
        NF,
        "The named resource does not exist (or is hidden from the caller).",
    ),
    r(
        "RESULT_ALREADY_CERTIFIED",
        AE,
        "The result already has a certificate; the metadata names it.",
    ),
    r(
        "RESULT_NOT_PUBLISHED",
        FP,
        "Certificates are issued from published results only.",
    ),
    r(
        "RE_RATING_ALREADY_FILED",
        AE,
        "The certificate already has a re-rating application; it is re-rated once.",
    ),
    r(
        "RE_RATING_APPLICATION_CONSUMED",
        FP,
        "The re-rating application already brought its product into a round; the metadata names the entry.",
    ),
    r("RE_RATING_CLOSED", FP, "Only a FILED re-rating application is closed."),
    r(
        "RE_RATING_NOT_ACCEPTED",
        FP,
        "The re-rating application is closed or withdrawn; only a FILED one enters a round.",
    ),
    r(
        "RE_RATING_WINDOW_CLOSED",
        FP,
        "The re-rating window of the certificate has closed.",
    ),
    r(
        "RE_RATING_WINDOW_NOT_OPEN",
        FP,
        "The re-rating window of the certificate is not open yet.",
    ),
    r(
        "ROLE_NOT_ALLOWED",
        PD,
        "The caller's role may not call this method; the message lists the roles that may.",
    ),
    r("ROUND_NOT_OPEN", FP, "Entries are taken while the round is open."),
    r(
        "ROUND_NOT_SCORING",
        FP,
        "Sheets are saved and submitted while the round is scoring.",
    ),
    r(
        "SERVICE_STARTING",
        UN,
        "The service is not serving yet (migrating, or its database does not answer); retry.",
    ),
    r(
        "SHEET_INCOMPLETE",
        FP,
        "The score sheet leaves criteria unanswered; the message lists them.",
    ),
    r(
        "SHEET_NEEDS_SAVE",
        FP,
        "The draft was saved by an older version of the service; save it again, then submit.",
    ),
    r(
        "SHEET_NOT_YOURS",
        PD,
        "The score sheet belongs to another council member.",
    ),
    r("SHEET_SUBMITTED", FP, "The score sheet is submitted and locked."),
    r(
        "SHUTTING_DOWN",
        UN,
        "The service is shutting down and ended the stream; reconnect (to another replica).",
    ),
    r(
        "STALE_ETAG",
        AB,
        "The resource changed since it was read; read it again and retry with its etag.",
    ),
    r(
        "STARS_NOT_IN_AUTHORITY",
        FP,
        "The level certifies other star counts under the rules of that day.",
    ),
    r(
        "SUBJECT_DISSOLVED",
        FP,
        "The producer is dissolved; it cannot register products.",
    ),
    r("SUBJECT_NOT_ACTIVE", FP, "Only active producers enter rounds."),
    r(
        "TLS_REQUIRED",
        FP,
        "The port speaks TLS and the call came in plaintext; dial https:// with the deployment's CA (the peer's tls table).",
    ),
    r(
        "TOKEN_AUDIENCE_MISSING",
        UA,
        "The token has no `aud` claim; issue it for this deployment's audience.",
    ),
    r(
        "TOKEN_BAD_SIGNATURE",
        UA,
        "The token's signature does not match this deployment's keys.",
    ),
    r("TOKEN_EXPIRED", UA, "The token has expired; ask for a new one."),
    r(
        "TOKEN_ISSUED_IN_FUTURE",
        UA,
        "The token's `iat` is in the future; check the issuer's clock.",
    ),
    r(
        "TOKEN_KID_REQUIRED",
        UA,
        "The token has no `kid` while the key set holds several keys.",
    ),
    r(
        "TOKEN_LIFETIME_TOO_LONG",
        UA,
        "The token lives longer than `auth.max_token_lifetime_s` allows.",
    ),
    r(
        "TOKEN_MALFORMED",
        UA,
        "The `authorization` metadata is not `Bearer <token>`, or the token does not decode.",
    ),
    r(
        "TOKEN_MISSING",
        UA,
        "The method needs a bearer token in the `authorization` metadata.",
    ),
    r(
        "TOKEN_MISSING_JURISDICTION",
        UA,
        "A role bound to a province (or commune) needs that claim in its token.",
    ),
    r("TOKEN_NOT_YET_VALID", UA, "The token's `nbf` is in the future."),
    r(
        "TOKEN_UNKNOWN_KEY",
        UA,
        "The token names a key (`kid`) this deployment does not know.",
    ),
    r(
        "TOKEN_WRONG_AUDIENCE",
        UA,
        "The token is for another audience than this deployment's.",
    ),
    r("TOKEN_WRONG_ISSUER", UA, "The token was issued for another deployment."),
    r(
        "TOO_MANY_EXPORTS",
        RE,
        "The most exports this service runs at once are running; retry later.",
    ),
    r(
        "TRANSITION_EXPIRED",
        FP,
        "A dossier filed before Decision 26/2026 had to be rated within its transition period.",
    ),
    r(
        "UNIT_HAS_NO_SUCCESSOR",
        FP,
        "The administrative unit ceased and no successor is recorded.",
    ),
    r(
        "UNIT_NOT_YET_IN_FORCE",
        FP,
        "The unit code came into force after the date asked; use the list in force then.",
    ),
    r(
        "UNIT_SUCCESSOR_AMBIGUOUS",
        FP,
        "The unit ceased and its communes went to several provinces; resolve a commune instead.",
    ),
    r(
        "UNKNOWN_ROLE",
        PD,
        "The token's role is not one of the platform's roles.",
    ),
    r("URL_LISTED", AE, "The catalog already lists this URL."),
    r(
        "VERIFY_RATE_LIMITED",
        RE,
        "Too many verifications from this address; retry after the RetryInfo delay.",
    ),
    r(
        "WRITTEN_OPINIONS_RE_RATING_ONLY",
        FP,
        "A round decided by written opinions takes re-rating entries under Decision 26/2026 only.",
    ),
    r(
        "WRONG_COMMUNE_STEP",
        FP,
        "The entry's regime takes the other commune step (assessment or report).",
    ),
    r(
        "WRONG_PLAN_STATE",
        FP,
        "The business plan is not in the state this method needs.",
    ),
    r(
        "WRONG_RESULT_LEVEL",
        FP,
        "A certificate of this level is issued from a round of the matching level.",
    ),
    r(
        "WRONG_ROUND_STATE",
        FP,
        "The round is not in the state this method needs.",
    ),
];
