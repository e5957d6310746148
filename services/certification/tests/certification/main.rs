//! Certification's integration tests: the service in-process on port 0, a database per test.
//!
//! One binary for the crate's integration tests: each module is one topic's tests,
//! `support` holds what they share.

mod audit;
mod client_limits;
mod inspecting;
mod issuing;
mod key_rotation;
mod procedure_2026;
mod re_rating;
mod re_rating_rounds;
mod revoking;
mod support;
mod verifying;
