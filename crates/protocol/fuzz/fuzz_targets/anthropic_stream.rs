//! An Anthropic Messages upstream stream: decoded whole and in pieces, then encoded for every client protocol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::exercise::{self, Wire};

fuzz_target!(|data: &[u8]| exercise::upstream_stream(Wire::Anthropic, data));
