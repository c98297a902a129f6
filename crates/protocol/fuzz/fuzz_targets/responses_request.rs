//! A Responses request body: decoded, then encoded for every upstream protocol.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::exercise::{self, Wire};

fuzz_target!(|data: &[u8]| exercise::request(Wire::Responses, data));
