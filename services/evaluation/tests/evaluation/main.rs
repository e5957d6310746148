//! Evaluation's integration tests: the service in-process on port 0, a database per test.
//!
//! One binary for the crate's integration tests: each module is one topic's tests,
//! `support` holds what they share.

mod audit;
mod criteria;
mod decision_2026;
mod lifecycle;
mod nominations;
mod procedure;
mod rounds;
mod sheet_writes;
mod support;
