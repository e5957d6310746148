//! The registry's integration tests: the service in-process on port 0, a database per test.
//!
//! One binary for the crate's integration tests: each module is one topic's tests,
//! `support` holds what they share.

mod audit;
mod boundary;
mod cache;
mod cycle;
mod dossiers;
mod export_pool;
mod products;
mod subjects;
mod support;
mod transfer;
mod units;
