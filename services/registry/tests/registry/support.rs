//! What the tests share.

pub mod fixture;
