//! `serve` with body capture on (`general_settings.store_prompts_in_spend_logs: true`,
//! `body_capture_max_bytes`): the keys load without warnings and the stored record carries the
//! request and response bodies, cut at the cap; off (the default), none.

use crate::common::*;
use crate::usage_cmd::{serve_up, stop};

/// The request and response bodies of every record in the sandbox's `usage.db`.
fn bodies(s: &Sandbox) -> Vec<(Option<String>, Option<String>)> {
    let conn = rusqlite::Connection::open(s.state_dir().join("usage.db")).unwrap();
    let mut q = conn
        .prepare("SELECT request_body, response_body FROM usage_records")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn serve_captures_bodies_only_when_store_prompts_in_spend_logs_is_on() {
    let s = Sandbox::new();
    let child = serve_up(
        &s,
        "general_settings:\n  store_prompts_in_spend_logs: true\nbody_capture_max_bytes: 20\n\
         body_capture_retention_days: 3\n",
    );
    let (status, log) = stop(child);
    assert!(status.success(), "{status}: {log}");
    assert!(
        log.contains("capturing request and response bodies up to 20 bytes each, kept 3 days"),
        "{log}"
    );
    for line in log.lines().filter(|l| l.contains("WARN")) {
        assert!(
            !line.contains("store_prompts") && !line.contains("body_capture"),
            "a warning about the capture keys: {line}"
        );
    }
    // The request serve_up sends, as the client serialises it.
    let sent = serde_json::to_string(&serde_json::json!({"model": "canned", "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}]}))
    .unwrap();
    let rows = bodies(&s);
    assert!(!rows.is_empty(), "no record stored");
    for (req, resp) in &rows {
        let req = req.as_deref().expect("the request body is captured");
        let resp = resp.as_deref().expect("the response body is captured");
        assert_eq!(
            req,
            format!(
                "{}\n[truncated by agent-shim: first 20 of {} bytes]",
                &sent[..20],
                sent.len()
            )
        );
        assert!(!req.contains("sk-ledger") && !resp.contains("sk-ledger"));
        assert!(
            resp.contains("[truncated by agent-shim: first 20 of "),
            "{resp}"
        );
    }

    let s = Sandbox::new();
    let (status, log) = stop(serve_up(&s, ""));
    assert!(status.success(), "{status}: {log}");
    assert!(!log.contains("capturing request"), "{log}");
    let rows = bodies(&s);
    assert!(!rows.is_empty(), "no record stored");
    assert!(rows.iter().all(|r| *r == (None, None)), "{rows:?}");
}
