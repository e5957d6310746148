//! What the tests share.

pub(crate) mod browser;
pub(crate) mod inspections;
pub(crate) mod world;
