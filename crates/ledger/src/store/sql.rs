//! What the two engines share: a statement with its parameters in the engine's placeholder
//! style ([`Query`]), the values going in ([`Val`]) and coming out ([`Cell`]), and the
//! [`Backend`] each engine implements (run a query, run statements in one transaction). Every
//! SQL text of the ledger is written once, in [`super::report`] and [`super::write`], in the
//! subset both SQLite and PostgreSQL accept.

use super::{StoreError, StoreFuture};
use std::fmt::Write as _;

/// Which placeholder style a [`Query`] uses: SQLite `?N`, PostgreSQL `$N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter: a BIGINT or a TEXT, either possibly NULL.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    I(Option<i64>),
    T(Option<String>),
}

/// A column of a result row (integers are read as i64, text as String; NULL as `None`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    I(Option<i64>),
    T(Option<String>),
}

impl Cell {
    /// The integer, `None` for NULL (and for a text column, which the ledger never reads so).
    pub(crate) fn int(&self) -> Option<i64> {
        match self {
            Cell::I(v) => *v,
            Cell::T(_) => None,
        }
    }

    /// The integer, 0 for NULL.
    pub(crate) fn int0(&self) -> i64 {
        self.int().unwrap_or(0)
    }

    /// The text; an integer column is shown in decimal.
    pub(crate) fn text(&self) -> Option<String> {
        match self {
            Cell::T(v) => v.clone(),
            Cell::I(v) => v.map(|v| v.to_string()),
        }
    }
}

/// A result row.
pub(crate) type Row = Vec<Cell>;

/// One statement: its text with placeholders, and the values they stand for.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) sql: String,
    pub(crate) params: Vec<Val>,
    /// Whether it returns rows (`SELECT`, `… RETURNING`) rather than a count of changed rows.
    pub(crate) returning: bool,
    dialect: Dialect,
}

impl Query {
    pub(crate) fn new(dialect: Dialect) -> Query {
        Query {
            sql: String::new(),
            params: Vec::new(),
            returning: true,
            dialect,
        }
    }

    /// A statement that changes rows and returns none (its outcome is the count).
    pub(crate) fn statement(dialect: Dialect) -> Query {
        Query {
            returning: false,
            ..Query::new(dialect)
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, sql: &str) -> &mut Query {
        self.sql.push_str(sql);
        self
    }

    /// Appends a placeholder for `v`.
    pub(crate) fn bind(&mut self, v: Val) -> &mut Query {
        self.params.push(v);
        let n = self.params.len();
        // Written in place: a batch binds about 16,000 values.
        let sigil = match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        let _ = write!(self.sql, "{sigil}{n}");
        self
    }

    pub(crate) fn bind_i(&mut self, v: i64) -> &mut Query {
        self.bind(Val::I(Some(v)))
    }

    pub(crate) fn bind_t(&mut self, v: &str) -> &mut Query {
        self.bind(Val::T(Some(v.to_owned())))
    }
}

/// What one statement of a transaction gave back: its rows (`RETURNING …`) and how many rows
/// it changed.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) rows: Vec<Row>,
    pub(crate) changed: u64,
}

/// Computes the second part of a transaction from what the first part returned.
pub(crate) type Then = Box<dyn FnOnce(&[Outcome]) -> Vec<Query> + Send>;

/// An engine: runs queries and transactions. Implementations keep blocking work (SQLite) off
/// the async workers.
pub(crate) trait Backend: Send + Sync + 'static {
    fn engine(&self) -> &'static str;
    fn dialect(&self) -> Dialect;
    /// The rows of one query.
    fn query(&self, q: Query) -> StoreFuture<'_, Vec<Row>>;
    /// Runs `first`, then the statements `then` computes from their outcomes, in one
    /// transaction; returns the outcomes of `first`.
    fn transaction(&self, first: Vec<Query>, then: Then) -> StoreFuture<'_, Vec<Outcome>>;
}

/// A store error about the database `shown` (already without its password).
pub(crate) fn err(shown: &str, what: impl std::fmt::Display) -> StoreError {
    StoreError(format!("usage ledger {shown}: {what}"))
}
