//! The usage ledger's store against real databases: SQLite and PostgreSQL
//! (`AGENT_SHIM_TEST_DATABASE_URL`, started by `.ci/run`). Every test runs on both engines.

mod bodies;
mod common;
mod migrations;
mod reports;
mod writer;
