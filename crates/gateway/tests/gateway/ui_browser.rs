//! The dashboard in a real browser: headless Chromium driven by playwright-core (both installed
//! by `bash .ci/run`) signs in through the form, reads the known workload's figures
//! ([`super::ui_api::workload`]) in the cards and tables, filters the request table by model,
//! opens a request's detail and saves a full-page screenshot; then opens the page of a gateway
//! without a master key and with an empty ledger. The script
//! (`ui_dashboard.cjs`) fails on any page error or console error.

use super::ui_api::{gateway_with_ledger, workload};
use crate::common::MASTER_KEY;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// Where the screenshot goes: `$AGENT_SHIM_ARTIFACTS_DIR`, else `<target>/artifacts`.
fn artifacts_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("AGENT_SHIM_ARTIFACTS_DIR") {
        return PathBuf::from(d);
    }
    // The test binary is <target>/<profile>/deps/gateway-<hash>.
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().join("artifacts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_shows_a_known_workload_in_headless_chromium() {
    let node_modules = std::env::var("AGENT_SHIM_TEST_NODE_MODULES").unwrap_or_else(|_| {
        panic!(
            "AGENT_SHIM_TEST_NODE_MODULES is not set: it must name a node_modules directory with \
             the npm package playwright-core (and Chromium must be installed); `bash .ci/run` \
             installs both and sets it"
        )
    });
    let (g, _dir) = gateway_with_ledger(Some(workload()), true).await;
    let (empty, _empty_dir) = gateway_with_ledger(Some(vec![]), false).await;
    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    // What the page must show for the workload of the last 24 hours (figures: ui_api::workload).
    let expect = json!({
        "cards": {
            "card-spend": "$1.2845",
            "card-unpriced": "1 request(s) without a price",
            "card-requests": "6",
            "card-tokens": "16,300 in · 2,400 out",
            "card-errors": "2",
            "card-errors-detail": "429: 1 · 529: 1 · 33.3%",
            "card-fallback-rate": "16.7%",
            "card-cache-hit": "55.2%",
            "card-cache-tokens": "9,000 read · 2,000 written",
            "card-latency": "800 ms / 3.00 s",
            "card-ttfb": "300 ms / 500 ms",
        },
        "requests": ["req-f", "req-e", "req-d", "req-c", "req-b", "req-a"],
        "breakdown": ["sonnet", "gpt-5", "qwen-local"],
        "filter_model": "sonnet",
        "filtered": ["req-e", "req-b", "req-a"],
        "detail_id": "req-a",
        "detail": {
            "detail-request_id": "req-a",
            "detail-status": "200",
            "detail-model_group": "sonnet",
            "detail-provider": "anthropic",
            "detail-agent": "claude-code",
            "detail-cost_usd": "$0.75",
            "detail-latency_ms": "2.00 s",
            "detail-tokens-cache_read": "6,000",
            "detail-tokens-cache_write": "2,000",
            "detail-request_body-text": crate::ui_api::CAPTURED_REQUEST,
            "detail-response_body": "not captured (general_settings.store_prompts_in_spend_logs)",
        },
        "week": {"card-spend": "$3.2845", "card-requests": "7"},
    });
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/gateway/ui_dashboard.cjs"
    );
    let run = tokio::process::Command::new("node")
        .arg(script)
        .env("AGENT_SHIM_TEST_NODE_MODULES", &node_modules)
        .env("DASHBOARD_URL", format!("{}/ui", g.base))
        // The key goes through the environment, never a command line.
        .env("DASHBOARD_KEY", MASTER_KEY)
        .env("DASHBOARD_EXPECT", expect.to_string())
        .env("DASHBOARD_SCREENSHOT", &shot)
        .env("DASHBOARD_EMPTY_URL", format!("{}/ui", empty.base))
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser script finishes within 3 minutes")
        .expect("node runs (is Node.js installed? `bash .ci/run`)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser script failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("dashboard ok"), "{stdout}\n{stderr}");
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        shot.display()
    );
    assert!(
        png.len() > 20_000,
        "the screenshot is only {} bytes",
        png.len()
    );
    eprintln!("{stdout}dashboard screenshot: {}", shot.display());
}
