//! The regulation, pure: who may certify how many stars on which day
//! (`authority`), how long a certificate lasts and when it may be re-rated
//! (`validity`), the grounds of a revocation (`grounds`) and how an
//! issuance reads a result (`issuing`). No database, no clock: unit-tested
//! on their own.

pub mod authority;
pub mod grounds;
pub mod issuing;
pub mod validity;
