//! The end-to-end tests: the service binaries run as processes against the real PostgreSQL and Redis.
//!
//! One binary for the crate's integration tests: each module is one topic's tests,
//! `support` holds what they share.

mod authorization;
mod backup_restore;
mod balance;
mod cli;
mod cli_2026;
mod cli_audit;
mod dashboards;
mod evaluation;
mod faults;
mod federation_tls;
mod feed;
mod fuzz;
mod livez;
mod merger;
mod national;
mod procedure_2026;
mod promotion;
mod registry;
mod shutdown;
mod startup;
mod suite;
mod support;
mod tls;
mod trace;
mod trace_services;
