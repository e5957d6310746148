//! Promotion's integration tests: the service in-process on port 0, a database per test.
//!
//! One binary for the crate's integration tests: each module is one topic's tests,
//! `support` holds what they share.

mod audit;
mod catalog;
mod catalog_errors;
mod fairs;
mod paging;
mod statistics;
mod support;
