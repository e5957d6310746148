//! The pure regulation of evaluation, unit-tested without a database: the
//! criteria sheets and their checks, scoring a member's answers, the result
//! rules (mean, stars, markers, regimes) and the batches of Decision 26/2026.

pub mod batches;
pub mod criteria_sheets;
pub mod results;
pub mod scoring;
