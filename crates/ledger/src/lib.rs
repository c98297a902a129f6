//! agent-shim's usage ledger (issue 12, DESIGN.md §4.4): what every client request cost and where
//! it went.
//!
//! - [`record`]: one [`UsageRecord`] per client request, built by the gateway when the response
//!   ends (or the client goes away).
//! - [`channel`]: the bounded queue between the request path and the writer; sending never
//!   blocks, a full queue drops the record and counts it.
//! - [`prices`]: the embedded price table, `model_info` overrides and the cost of a record.
//! - [`shared`]: the state several gateway instances share through PostgreSQL (registered
//!   models, cooldowns, rpm/tpm counters), synchronised in background tasks.
//! - [`store`]: the [`Store`] trait with SQLite and PostgreSQL implementations chosen once at
//!   start, migrations, the batching writer, retention and the reports.

// Product code answers bad input with an error, never a panic (as in the gateway).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::unreachable,
    clippy::todo,
    clippy::unimplemented
)]

pub mod channel;
pub mod prices;
pub mod record;
pub mod shared;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod test_db;

pub use channel::{Receiver, Sender, channel};
pub use record::{Tokens, UsageRecord};
pub use store::Store;
