//! What the tests share.

pub(crate) mod procedure;
pub(crate) mod world;
