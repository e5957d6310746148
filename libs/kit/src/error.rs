//! The one error vocabulary of the platform and its mapping to gRPC.
//!
//! Domain code returns [`Error`]; the gRPC adapters turn it into a
//! [`tonic::Status`] with [`Error::into_status`], the only place where codes,
//! `google.rpc.ErrorInfo` and `google.rpc.BadRequest` are built. Every error
//! carries a stable UPPER_SNAKE reason that clients may branch on; the message
//! is for people and says what to change.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use tonic::Code;
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every error this platform raises (defined beside
/// the boundary checks, which raise errors before any handler runs).
pub use ocop_proto::boundary::ERROR_DOMAIN;

/// Longest message sent, in bytes. The message travels in a response header;
/// a client refuses headers past 16 KiB and would see RESOURCE_EXHAUSTED
/// instead of the real error, so nothing quoted into a message may grow it.
const MAX_MESSAGE_BYTES: usize = 1024;
/// Longest ErrorInfo metadata value sent, in bytes (same reason).
const MAX_METADATA_BYTES: usize = 256;

/// `text` cut to at most `max` bytes at a character boundary, marked with `…`.
pub fn bounded(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// Result of domain operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the terms of the canonical gRPC codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed; nothing was changed. Carries field violations.
    InvalidArgument,
    /// The named resource does not exist.
    NotFound,
    /// The resource (or a unique attribute of it) already exists.
    AlreadyExists,
    /// The caller may not do this.
    PermissionDenied,
    /// No valid credentials.
    Unauthenticated,
    /// The system is not in the state the operation needs.
    FailedPrecondition,
    /// A concurrency conflict: stale etag or serialization failure; retry after re-reading.
    Aborted,
    /// A quota or rate limit was hit; retry later.
    ResourceExhausted,
    /// A dependency (database, another service) is unreachable; retry later.
    Unavailable,
    /// The deadline passed before the work finished.
    DeadlineExceeded,
    /// A bug or an unexpected state; details are logged, not returned.
    Internal,
}

impl ErrorKind {
    /// The gRPC code of this kind.
    pub fn code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::Aborted => Code::Aborted,
            ErrorKind::ResourceExhausted => Code::ResourceExhausted,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::Internal => Code::Internal,
        }
    }
}

/// Field violations sent at most (the message lists them all, bounded).
const MAX_VIOLATIONS: usize = 20;

/// One violated field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `subject.commune_code`.
    pub field: String,
    /// What is wrong and what is allowed.
    pub description: String,
}

/// A domain error: a kind, a stable reason, a message for people, and details.
/// Boxed, so `Result`s stay one pointer wide on the happy path.
#[derive(Debug, Clone)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    kind: ErrorKind,
    reason: &'static str,
    message: String,
    violations: Vec<FieldViolation>,
    metadata: HashMap<String, String>,
    retry_after: Option<Duration>,
}

impl Error {
    /// A new error of `kind` with a stable `reason` and a message.
    ///
    /// In debug builds (every test), a reason that is not in
    /// [`crate::reasons::CATALOGUE`] with this kind's code panics: the
    /// catalogue is the contract callers program against.
    pub fn new(kind: ErrorKind, reason: &'static str, message: impl Into<String>) -> Self {
        debug_assert!(
            crate::reasons::find(reason).is_some_and(|r| r.code == kind.code()),
            "reason {reason} is not catalogued with code {:?} in libs/kit/src/reasons/catalogue.rs",
            kind.code()
        );
        Error(Box::new(Inner {
            kind,
            reason,
            message: message.into(),
            violations: Vec::new(),
            metadata: HashMap::new(),
            retry_after: None,
        }))
    }

    /// INVALID_ARGUMENT for one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        let mut violations = Violations::default();
        violations.push(field, description);
        violations.into_error().expect("one violation was recorded")
    }

    /// NOT_FOUND for a resource name.
    pub fn not_found(resource: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::NotFound,
            "RESOURCE_NOT_FOUND",
            format!("{resource} does not exist"),
        )
        .with_metadata("resource", resource.to_string())
    }

    /// ALREADY_EXISTS (`ALREADY_EXISTS`) for a create whose resource name is
    /// taken, with what the caller can do instead (`hint`).
    pub fn already_exists(resource: impl fmt::Display, hint: impl fmt::Display) -> Self {
        Error::new(
            ErrorKind::AlreadyExists,
            "ALREADY_EXISTS",
            format!("{resource} already exists; {hint}"),
        )
        .with_metadata("resource", resource.to_string())
    }

    /// PERMISSION_DENIED with a reason and an explanation.
    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::PermissionDenied, reason, message)
    }

    /// UNAUTHENTICATED with a reason and an explanation.
    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthenticated, reason, message)
    }

    /// FAILED_PRECONDITION with a reason and an explanation.
    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::FailedPrecondition, reason, message)
    }

    /// INTERNAL; the detail goes to the log, the caller gets a generic message.
    pub fn internal(detail: impl fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Error::new(
            ErrorKind::Internal,
            "INTERNAL",
            "internal error; it has been logged with this request's trace id",
        )
    }

    /// UNAVAILABLE: a dependency cannot be reached.
    pub fn unavailable(reason: &'static str, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, reason, message)
    }

    /// Adds a key to the ErrorInfo metadata.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.metadata.insert(key.into(), value.into());
        self
    }

    /// Tells the client when to retry (RESOURCE_EXHAUSTED, UNAVAILABLE).
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// When the client may retry, if it was told.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The stable reason.
    pub fn reason(&self) -> &'static str {
        self.0.reason
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// Field violations of an INVALID_ARGUMENT.
    pub fn violations(&self) -> &[FieldViolation] {
        &self.0.violations
    }

    /// The gRPC status, with ErrorInfo, BadRequest and RetryInfo details.
    pub fn into_status(self) -> tonic::Status {
        let this = *self.0;
        let mut details = ErrorDetails::new();
        let metadata: HashMap<String, String> = this
            .metadata
            .into_iter()
            .map(|(k, v)| (k, bounded(&v, MAX_METADATA_BYTES).into_owned()))
            .collect();
        details.set_error_info(this.reason, ERROR_DOMAIN, metadata);
        for v in this.violations.into_iter().take(MAX_VIOLATIONS) {
            details.add_bad_request_violation(v.field, bounded(&v.description, MAX_METADATA_BYTES));
        }
        if this.retry_after.is_some() {
            details.set_retry_info(this.retry_after);
        }
        let message = bounded(&this.message, MAX_MESSAGE_BYTES).into_owned();
        tonic::Status::with_error_details(this.kind.code(), message, details)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.0.kind, self.0.reason, self.0.message)
    }
}

impl std::error::Error for Error {}

impl From<Error> for tonic::Status {
    fn from(err: Error) -> Self {
        err.into_status()
    }
}

/// Collects every field violation of a request before answering, so the
/// caller can fix them all at once instead of one per round trip.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records one violation.
    pub fn add(mut self, field: impl Into<String>, description: impl Into<String>) -> Self {
        self.push(field, description);
        self
    }

    /// Records one violation in place.
    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first violation recorded.
    pub fn first(&self) -> Option<&FieldViolation> {
        self.0.first()
    }

    /// The INVALID_ARGUMENT error, or `None` when nothing was recorded.
    pub fn into_error(self) -> Option<Error> {
        let message = self
            .0
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        self.into_error_with("INVALID_FIELD", message)
    }

    /// The INVALID_ARGUMENT error with its own reason and message (a summary,
    /// when the violations are too many to list in a message).
    pub fn into_error_with(self, reason: &'static str, message: impl Into<String>) -> Option<Error> {
        if self.0.is_empty() {
            return None;
        }
        let mut err = Error::new(ErrorKind::InvalidArgument, reason, message);
        err.0.violations = self.0;
        Some(err)
    }

    /// `Err` with every violation, or `Ok(())`.
    pub fn check(self) -> Result<()> {
        match self.into_error() {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_reason_domain_and_violations() {
        let status = Violations::default()
            .add("page_size", "must not be negative")
            .add("filter", "unknown field `colour`")
            .into_error()
            .expect("two violations")
            .into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let info = status.get_details_error_info().expect("error info");
        assert_eq!(info.reason, "INVALID_FIELD");
        assert_eq!(info.domain, ERROR_DOMAIN);
        let bad = status.get_details_bad_request().expect("bad request");
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[1].field, "filter");
        assert!(status.message().contains("page_size: must not be negative"));
    }

    #[test]
    fn long_input_never_grows_the_answer() {
        let long = "đ".repeat(10_000);
        let status = Error::invalid("code", format!("`{long}` is not a code"))
            .with_metadata("code", long.clone())
            .into_status();
        assert!(
            status.message().len() <= MAX_MESSAGE_BYTES,
            "{}",
            status.message().len()
        );
        assert!(status.message().ends_with('…'));
        let info = status.get_details_error_info().unwrap();
        assert!(info.metadata["code"].len() <= MAX_METADATA_BYTES);
        let bad = status.get_details_bad_request().unwrap();
        assert!(bad.field_violations[0].description.len() <= MAX_METADATA_BYTES);
        assert_eq!(bounded("ngắn", 100), "ngắn");
    }

    #[test]
    fn empty_violations_are_ok() {
        assert!(Violations::default().check().is_ok());
    }

    #[test]
    fn not_found_names_the_resource() {
        let status = Error::not_found("subjects/42").into_status();
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(status.message(), "subjects/42 does not exist");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.metadata.get("resource").map(String::as_str), Some("subjects/42"));
    }
}
