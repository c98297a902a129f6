//! HTTP handlers, one module per endpoint family.

pub mod admin;
pub mod control;
pub mod health;
pub mod messages;
pub mod models;
pub mod openai;
