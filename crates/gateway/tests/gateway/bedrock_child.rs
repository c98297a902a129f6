//! A gateway in a child process with an environment of its own, for the credential tests.
//!
//! `aws-config` reads the process environment (`HOME`, `AWS_CONFIG_FILE`,
//! `AWS_ENDPOINT_URL_SSO`, …), which a test may not change: the tests of this binary share one
//! process under `cargo test`, and `set_var` is unsafe code, which the workspace forbids. So such
//! a gateway runs in this binary again, as the ignored test [`child_gateway`], with the
//! environment the test gives it; it serves until the test closes its standard input.

use crate::common::*;
use gateway::{ModelDefinition, RouterSettings};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const CHILD: &str = "bedrock_child::child_gateway";
const CHILD_MODELS: &str = "BEDROCK_CHILD_MODELS";
const READY: &str = "BEDROCK_CHILD_GATEWAY=";

/// A gateway serving the definitions in `$BEDROCK_CHILD_MODELS` until its standard input
/// closes; it prints its URL first. Started by [`ChildGateway::start`].
#[tokio::test]
#[ignore = "started by the credential tests, in a process with the environment they give it"]
async fn child_gateway() {
    let models: Vec<ModelDefinition> =
        serde_json::from_str(&std::env::var(CHILD_MODELS).unwrap()).unwrap();
    let router = RouterSettings {
        num_retries: 1,
        max_retry_after: Duration::from_secs(1),
        ..RouterSettings::default()
    };
    let gw = gateway_with(models, HashMap::new(), router).await;
    println!("{READY}{}", gw.base);
    tokio::task::spawn_blocking(|| {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new())
    })
    .await
    .unwrap()
    .unwrap();
}

pub struct ChildGateway {
    proc: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    output: tokio::task::JoinHandle<String>,
    pub gw: Running,
}

impl ChildGateway {
    /// Starts [`child_gateway`] with `models` and, of the AWS variables, only `env` (and no
    /// instance metadata service, no proxies).
    pub async fn start(models: Value, env: &[(&str, &Path)]) -> ChildGateway {
        let mut cmd = tokio::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            CHILD,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ]);
        for (k, _) in std::env::vars() {
            if k.starts_with("AWS_") || k.to_ascii_lowercase().ends_with("_proxy") {
                cmd.env_remove(&k);
            }
        }
        cmd.env("AWS_EC2_METADATA_DISABLED", "true")
            .env("NO_PROXY", "*")
            .env(CHILD_MODELS, models.to_string())
            .envs(env.iter().map(|(k, v)| (k, v.as_os_str())))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut proc = cmd.spawn().unwrap();
        let stdin = proc.stdin.take();
        let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
        let mut seen = String::new();
        let base = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("the child gateway starts")
                .unwrap();
            match line {
                // libtest may have written `test … ... ` on the same line.
                Some(l) => match l.split_once(READY) {
                    Some((_, base)) => break base.trim().to_owned(),
                    None => seen += &format!("{l}\n"),
                },
                None => panic!("the child gateway ended before it served: {seen}"),
            }
        };
        let output = tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                seen += &format!("{l}\n");
            }
            seen
        });
        let gw = Running {
            base,
            http: reqwest::Client::new(),
        };
        ChildGateway {
            proc,
            stdin,
            output,
            gw,
        }
    }

    /// Stops the child, checking its test passed.
    pub async fn stop(mut self) {
        drop(self.stdin.take());
        let status = self.proc.wait().await.unwrap();
        let out = self.output.await.unwrap();
        assert!(
            status.success() && out.contains("1 passed"),
            "{status}: {out}"
        );
    }
}
