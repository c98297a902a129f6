//! Upstream providers: the data table of what each one speaks and rejects ([`table`], with the
//! OpenAI-compatible hosts in [`hosts`]), deployments (model definitions resolved against it),
//! and the modules of providers with their own transport (Azure, Bedrock, Cloudflare,
//! Perplexity, Vertex AI, the claude-code harness).

pub mod azure;
pub mod bedrock;
pub mod claude_code;
pub mod cloudflare;
pub mod deployment;
mod endpoint;
pub mod env_refs;
pub mod hosts;
pub mod params;
pub mod perplexity;
pub mod table;
pub mod vertex;
