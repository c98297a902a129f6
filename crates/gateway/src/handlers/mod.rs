//! HTTP handlers, one module per endpoint family.

pub mod health;
pub mod messages;
pub mod models;
