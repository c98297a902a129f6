//! Any number of shells at once lose no refcount: 50 processes each doing 20 enter/leave pairs on
//! overlapping tokens, then one last enter; every refcount must come out exact, and no command
//! may fail with a locked database.

use crate::common::*;
use std::collections::HashMap;
use std::time::Instant;

#[test]
fn fifty_processes_of_enter_leave_pairs_keep_exact_refcounts() {
    let s = Sandbox::new();
    s.write_config(
        "models.yaml",
        &("model_list:\n".to_owned()
            + &["m-a", "m-b", "m-c"]
                .iter()
                .map(|m| format!("  - model_name: {m}\n    litellm_params:\n      model: mock/x\n      mock_response: {m}\n"))
                .collect::<String>()),
    );
    s.write_config(
        "profiles/p2.yaml",
        "meta:\n  name: p2\n  opus_model: demo/opus\n  sonnet_model: m-a\n  haiku_model: m-b\n",
    );
    s.write_config(
        "profiles/p3.yaml",
        "meta:\n  name: p3\n  opus_model: m-b\n  sonnet_model: m-c\n  haiku_model: m-c\n",
    );
    assert!(s.run(&["proxy", "start"]).status.success());
    let tokens = [
        ("t0", "demo"),
        ("t1", "demo"),
        ("t2", "p2"),
        ("t3", "p2"),
        ("t4", "p3"),
    ];
    let exe = env!("CARGO_BIN_EXE_agent-shim");
    let (procs, pairs) = (50, 20);
    let started = Instant::now();
    let children: Vec<_> = (0..procs)
        .map(|i| {
            let (token, profile) = tokens[i % tokens.len()];
            let script = format!(
                "for i in $(seq {pairs}); do \"$0\" enter {token} {profile} || exit 1; \"$0\" leave {token} || exit 1; done; \"$0\" enter {token} {profile}"
            );
            s.cmd_at(std::path::Path::new("sh"), &["-c", &script, exe])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut failures = Vec::new();
    for c in children {
        let o = c.wait_with_output().unwrap();
        if !o.status.success() || !o.stderr.is_empty() {
            failures.push(format!("{}: {}", o.status, stderr(&o)));
        }
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} processes failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );

    let st = status_json(&s);
    let refs: HashMap<String, i64> = st["directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["token"].as_str().unwrap().to_owned(),
                d["refs"].as_i64().unwrap(),
            )
        })
        .collect();
    let counts: HashMap<String, i64> = st["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["model_name"].as_str().unwrap().to_owned(),
                m["refcount"].as_i64().unwrap(),
            )
        })
        .collect();
    // Ten processes per token are still inside; each token's profile counts once per shell.
    for (t, _) in tokens {
        assert_eq!(refs[t], 10, "token {t}");
    }
    let expected: HashMap<&str, i64> = [
        ("demo/opus", 40),
        ("demo/sonnet", 20),
        ("demo/haiku", 20),
        ("m-a", 20),
        ("m-b", 30),
        ("m-c", 10),
    ]
    .into();
    for (m, n) in &expected {
        assert_eq!(counts[*m], *n, "refcount of {m}");
    }
    assert!(
        st["models"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["lease_expires"].is_null() && m["registered"] == true)
    );
    let mut registered = registered_models(&s);
    registered.retain(|m| expected.contains_key(m.as_str()));
    assert_eq!(
        registered.len(),
        6,
        "every entered model is registered with the gateway"
    );
    let commands = procs * (2 * pairs + 1);
    println!(
        "concurrency: {procs} processes x {pairs} enter/leave pairs (+1 enter) = {commands} commands on {} overlapping tokens in {:.2} s \
         ({:.1} commands/s); 0 failures; refs per token {:?}; model refcounts {:?}",
        tokens.len(),
        elapsed.as_secs_f64(),
        commands as f64 / elapsed.as_secs_f64(),
        tokens.iter().map(|(t, _)| refs[*t]).collect::<Vec<_>>(),
        expected
    );
}

/// Regression: several `enter`s starting the gateway at once made the losers of the pid-file race
/// report "the gateway exited at start" although the winner's gateway was coming up.
#[test]
fn concurrent_enters_start_one_gateway_and_all_succeed() {
    let s = Sandbox::new();
    let children: Vec<_> = (0..8)
        .map(|i| {
            s.cmd(&["enter", &format!("race{i}"), "demo"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let st = status_json(&s);
    assert_eq!(st["gateway"]["running"], true);
    assert_eq!(st["directories"].as_array().unwrap().len(), 8);
    assert_eq!(
        registered_models(&s),
        ["demo/haiku", "demo/opus", "demo/sonnet"]
    );
}
