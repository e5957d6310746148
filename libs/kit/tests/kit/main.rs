//! The kit's integration tests.
//!
//! One binary for the crate's integration tests: each module is one topic's tests,
//! `support` holds what they share.

mod audit_read;
mod cache_owed;
mod cache_race;
mod db_errors;
mod deadline;
mod deploy_configs;
mod deploy_k8s;
mod rate_limit;
mod tls_config;
