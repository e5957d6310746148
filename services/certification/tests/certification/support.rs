//! What the tests share.

pub mod browser;
pub mod inspections;
pub mod world;
