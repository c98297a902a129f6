//! Upstream providers: the data table of what each one speaks and rejects, and deployments (model
//! definitions resolved against it).

pub mod bedrock;
pub mod claude_code;
pub mod deployment;
pub mod env_refs;
pub mod table;
