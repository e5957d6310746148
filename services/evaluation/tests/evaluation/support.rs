//! What the tests share.

pub mod procedure;
pub mod world;
