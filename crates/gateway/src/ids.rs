//! Identifiers the gateway gives answers: `msg_…`, `chatcmpl-…`, 24 random alphanumerics.

use rand::Rng;
use rand::distr::Alphanumeric;

/// `prefix` followed by 24 random alphanumeric characters.
pub fn new_id(prefix: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + 24);
    s.push_str(prefix);
    s.extend(
        rand::rng()
            .sample_iter(&Alphanumeric)
            .take(24)
            .map(char::from),
    );
    s
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
