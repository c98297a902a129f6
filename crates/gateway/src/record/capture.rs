//! Opt-in body capture (issue 12 §1; LiteLLM's `general_settings.store_prompts_in_spend_logs`,
//! off by default): a request's record keeps the request body the client sent and the response
//! body as the client received it (a stream's SSE text as it went out), each up to a cap
//! (`body_capture_max_bytes`). Copying stops at the cap, so a long stream costs nothing more;
//! a body cut there ends with [`ledger::record::TRUNCATED_MARK`]. Headers are never captured
//! (the API key travels in them, never in a body).
//!
//! With capture off the record holds no [`Captured`] at all: one branch per chunk, no copy,
//! no allocation.

use ledger::record::TRUNCATED_MARK;
use std::fmt::Write as _;

/// The bodies captured for one request so far.
pub(crate) struct Captured {
    /// The most bytes kept of each body.
    cap: usize,
    /// The request body's first `cap` bytes, and its whole length.
    request: Option<(Vec<u8>, usize)>,
    /// The response's first `cap` bytes as sent.
    response: Vec<u8>,
    /// More response bytes were sent than `response` keeps.
    response_cut: bool,
}

impl Captured {
    /// Nothing captured yet; bodies kept up to `cap` bytes each.
    pub(crate) fn new(cap: usize) -> Captured {
        Captured {
            cap,
            request: None,
            response: Vec::new(),
            response_cut: false,
        }
    }

    /// The request body the client sent (its first `cap` bytes are copied).
    pub(crate) fn request(&mut self, body: &[u8]) {
        let kept = &body[..body.len().min(self.cap)];
        self.request = Some((kept.to_vec(), body.len()));
    }

    /// A piece of the response as sent: copied while the cap leaves room, then only noted.
    pub(crate) fn response(&mut self, chunk: &[u8]) {
        let room = self.cap - self.response.len();
        if chunk.len() > room {
            self.response_cut = true;
        }
        if room > 0 {
            self.response
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
        }
    }

    /// The request body as text (`None` when none was read), taken.
    pub(crate) fn request_text(&mut self) -> Option<String> {
        let (bytes, total) = self.request.take()?;
        let cut = bytes.len() < total;
        Some(text(&bytes, cut, total as u64))
    }

    /// The response as text, taken; `total` is the bytes the client received.
    pub(crate) fn response_text(&mut self, total: u64) -> String {
        let bytes = std::mem::take(&mut self.response);
        text(&bytes, self.response_cut, total)
    }
}

/// `bytes` as text (invalid UTF-8 replaced). A body `cut` at the cap drops a character split by
/// the cut and ends with the truncation mark saying how much of `total` bytes is kept.
fn text(bytes: &[u8], cut: bool, total: u64) -> String {
    let mut kept = bytes;
    if cut
        && let Err(e) = std::str::from_utf8(bytes)
        && e.error_len().is_none()
    {
        // The cut fell inside a character: end before it rather than show a replacement.
        kept = &bytes[..e.valid_up_to()];
    }
    let mut s = String::from_utf8_lossy(kept).into_owned();
    if cut {
        let _ = write!(s, "{TRUNCATED_MARK}{} of {total} bytes]", kept.len());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_kept_whole_under_the_cap_and_cut_and_marked_over_it() {
        let mut c = Captured::new(8);
        c.request(b"{\"a\":1}");
        c.response(b"data: 1\n");
        assert_eq!(c.request_text().as_deref(), Some("{\"a\":1}"));
        assert_eq!(c.response_text(8), "data: 1\n");

        let mut c = Captured::new(8);
        c.request(b"0123456789");
        for chunk in [&b"abc"[..], b"defgh", b"ijk", b"", b"lmn"] {
            c.response(chunk);
        }
        assert!(c.response.capacity() <= 16, "copying stops at the cap");
        assert_eq!(
            c.request_text().as_deref(),
            Some("01234567\n[truncated by agent-shim: first 8 of 10 bytes]")
        );
        assert_eq!(
            c.response_text(14),
            "abcdefgh\n[truncated by agent-shim: first 8 of 14 bytes]"
        );
    }

    #[test]
    fn a_character_split_by_the_cap_is_dropped_and_other_bad_bytes_replaced() {
        let mut c = Captured::new(4);
        c.request("aé✓".as_bytes()); // a (1) é (2) ✓ (3): the cut splits ✓
        assert_eq!(
            c.request_text().as_deref(),
            Some("aé\n[truncated by agent-shim: first 3 of 6 bytes]")
        );
        let mut c = Captured::new(16);
        c.response(b"a\xffb");
        assert_eq!(c.response_text(3), "a\u{fffd}b");
    }
}
