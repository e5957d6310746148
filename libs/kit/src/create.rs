//! The create sequence every service follows, in one transaction: claim the
//! caller's `request_id` (a retry answers with what the first attempt made),
//! insert, write the audit and change-feed rows, commit, answer. Each create
//! RPC names its method, the new resource and the request_id once in a
//! [`Create`]; the steps between [`Create::begin`] and [`Create::commit`]
//! (checks under lock, the insert) are the resource's own.

use prost::Message;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};

use crate::Result;
use crate::audit::{self, Change};
use crate::auth::Principal;
use crate::idempotency::{self, Claim};

/// One create: the RPC, the name of the resource it makes, the caller's request_id.
pub struct Create<'a> {
    /// The RPC, e.g. `CreateSubject` (the audit log's method).
    pub method: &'static str,
    /// The name of the resource this attempt makes.
    pub name: &'a str,
    /// The caller's request_id, already validated ([`idempotency::parse`]).
    pub request_id: Option<uuid::Uuid>,
}

/// What beginning a create found.
pub enum Begun {
    /// A first attempt: go on in this transaction.
    Fresh(Transaction<'static, Postgres>),
    /// A retry: the resource the first attempt made, to answer with.
    Retried(String),
}

impl Create<'_> {
    /// Opens the transaction and claims the request_id in it.
    pub async fn begin(&self, db: &PgPool) -> Result<Begun> {
        let mut tx = db.begin().await?;
        Ok(match self.claim(&mut tx).await? {
            None => Begun::Fresh(tx),
            Some(first) => Begun::Retried(first),
        })
    }

    /// Claims the request_id in a transaction already open (for creates that
    /// lock their parent first): the first attempt's resource on a retry.
    pub async fn claim(&self, tx: &mut PgConnection) -> Result<Option<String>> {
        Ok(
            match idempotency::claim(tx, self.request_id, self.method, self.name).await? {
                Claim::Fresh => None,
                Claim::Done(first, _) => Some(first),
            },
        )
    }

    /// Writes the audit and change-feed rows of `created` (of `province`, at
    /// `etag`) and commits.
    pub async fn commit<M: Message>(
        &self,
        mut tx: Transaction<'_, Postgres>,
        who: &Principal,
        province: &str,
        etag: &str,
        created: &M,
    ) -> Result<()> {
        self.record(&mut tx, who, province, etag, created).await?;
        tx.commit().await?;
        Ok(())
    }

    /// As [`Create::commit`], leaving the transaction open for what the
    /// resource still writes with it.
    pub async fn record<M: Message>(
        &self,
        tx: &mut PgConnection,
        who: &Principal,
        province: &str,
        etag: &str,
        created: &M,
    ) -> Result<()> {
        let request_id = self.request_id.map(|r| r.to_string()).unwrap_or_default();
        let change = Change {
            method: self.method,
            kind: "created",
            resource: self.name,
            province,
            etag_before: "",
            etag_after: etag,
            request_id: &request_id,
            payload: created.encode_to_vec(),
        };
        audit::record(tx, who, change).await
    }
}
