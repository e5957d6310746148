//! The one catalogue of `ErrorInfo` reasons: every reason any service sends,
//! with its gRPC code and what it means to a caller.
//!
//! Clients branch on reasons, so a reason is part of the contract: it is
//! added here (and so to the README's table, which a test keeps equal to this
//! list) before any code may raise it. A test checks that every
//! reason-shaped literal in the sources is listed and every listed reason is
//! still raised somewhere.

use tonic::Code;

/// One reason of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    /// The stable UPPER_SNAKE name sent in `ErrorInfo.reason`.
    pub name: &'static str,
    /// The gRPC code it always comes with.
    pub code: Code,
    /// What it means and what the caller can do, for the README.
    pub meaning: &'static str,
}

mod catalogue;

pub use catalogue::CATALOGUE;

/// The catalogue's entry for `name`, if it has one.
pub fn find(name: &str) -> Option<&'static Reason> {
    CATALOGUE
        .binary_search_by(|r| r.name.cmp(name))
        .ok()
        .map(|i| &CATALOGUE[i])
}

/// The catalogue as the README's Markdown table.
pub fn markdown() -> String {
    let mut out = String::from("| reason | code | meaning |\n|---|---|---|\n");
    for r in CATALOGUE {
        out.push_str(&format!("| `{}` | {} | {} |\n", r.name, code_name(r.code), r.meaning));
    }
    out
}

/// The canonical name of a code (`Code`'s `Debug` is CamelCase).
pub fn code_name(code: Code) -> &'static str {
    use Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests;
