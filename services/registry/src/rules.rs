//! The registry's regulation that needs no database: who may write what,
//! and what a review decision leads to. Unit-tested here, without a database.

pub(crate) mod access;
pub(crate) mod review;
