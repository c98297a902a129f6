//! The SSE parser: the same events whatever the read sizes; written events parse back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::exercise;

fuzz_target!(|data: &[u8]| exercise::sse(data));
