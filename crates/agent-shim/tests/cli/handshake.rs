//! Whose gateway answers on the port: this installation's (restarted when it is of another
//! version and idle), another state dir's or user's (named, with what to do), or a program that
//! is not agent-shim. Every command agrees, `proxy status` and `proxy stop` included.
//!
//! An older agent-shim is played by a small Python program that does what one does: it holds
//! the pid file locked, answers `/health` as agent-shim with another version, and dies on
//! SIGTERM. The Python is `AGENT_SHIM_TEST_PYTHON` (made by `.ci/run`), else `python3`.

use crate::common::*;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const OLD_GATEWAY: &str = r#"
import fcntl, json, os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
port, pidfile, health = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
lock = None
if pidfile:
    lock = open(pidfile, "a+")
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.seek(0); lock.truncate(); lock.write(str(os.getpid())); lock.flush()
health["pid"] = os.getpid()
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(health).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// A process killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Running {
    fn exited_within(&mut self, secs: u64) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        while std::time::Instant::now() < deadline {
            if self.0.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

/// An older agent-shim on the sandbox's port answering `/health` with `health` (its pid added),
/// holding the sandbox's pid file when `hold_pid_file`.
fn old_gateway(s: &Sandbox, health: Value, hold_pid_file: bool) -> Running {
    let python = std::env::var("AGENT_SHIM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    std::fs::create_dir_all(s.state_dir()).unwrap();
    let pid_file = if hold_pid_file {
        s.state_dir()
            .join(format!("gateway-{}.pid", s.port))
            .display()
            .to_string()
    } else {
        String::new()
    };
    let child = Command::new(&python)
        .args([
            "-c",
            OLD_GATEWAY,
            &s.port.to_string(),
            &pid_file,
            &health.to_string(),
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} (set AGENT_SHIM_TEST_PYTHON): {e}"));
    let running = Running(child);
    wait_until(10, "the old gateway to answer", || {
        std::net::TcpStream::connect(("127.0.0.1", s.port)).is_ok()
    });
    running
}

/// This sandbox's instance id, as its own gateway reports it.
fn instance_id(s: &Sandbox) -> String {
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h: Value = serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap();
    assert!(s.run(&["proxy", "stop"]).status.success());
    h["instance"].as_str().unwrap().to_owned()
}

#[test]
fn gateway_of_other_state_dir_is_named() {
    let a = Sandbox::new();
    let o = a.run(&["proxy", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let h: Value = serde_json::from_str(&stdout(&a.run(&["proxy", "health"]))).unwrap();
    let pid = h["pid"].as_u64().unwrap();
    let mut b = Sandbox::new();
    b.port = a.port;
    let expected = format!(
        "port {} is served by another agent-shim (pid {pid}, state dir {})",
        a.port,
        a.state_dir().display()
    );
    for args in [
        &["proxy", "status"][..],
        &["proxy", "stop"],
        &["proxy", "start"],
        &["proxy", "health"],
        &["proxy", "reload"],
        &["proxy", "restart"],
        &["models", "test", "demo"],
        &["with", "demo", "--", "true"],
    ] {
        let o = b.run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&expected) && err.contains("set AGENT_SHIM_PORT"),
            "{args:?}: {err}"
        );
        // Not the "does not accept this agent-shim's master key" of a 401 (a bare "401" would
        // also match a pid such as 6401: that made this test fail one run in five).
        assert!(
            !err.contains("does not accept") && !err.contains("HTTP 401"),
            "{args:?}: {err}"
        );
    }
    let status = stdout(&b.run(&["status"]));
    assert!(status.contains(&expected), "{status}");
    let h: Value = serde_json::from_str(&stdout(&a.run(&["proxy", "health"]))).unwrap();
    assert_eq!(h["pid"].as_u64(), Some(pid), "a's gateway was left alone");
}

#[test]
fn a_port_that_accepts_but_never_answers_is_reported() {
    let s = Sandbox::new();
    let listener = std::net::TcpListener::bind(("127.0.0.1", s.port)).unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    for args in [
        &["proxy", "start"][..],
        &["proxy", "status"],
        &["proxy", "stop"],
    ] {
        let o = s.run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains(&format!("port {} ", s.port))
                && err.contains("something other than agent-shim")
                && err.contains("did not answer GET /health")
                && err.contains("AGENT_SHIM_PORT"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn gateway_of_another_version_is_restarted_when_idle() {
    let s = Sandbox::new();
    let id = instance_id(&s);
    let mut old = old_gateway(
        &s,
        json!({"status": "healthy", "service": "agent-shim", "version": "0.0.1",
               "instance": id, "open_requests": 0}),
        true,
    );
    let o = s.run(&["proxy", "status"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("version: 0.0.1")
            && stdout(&o).contains("run `agent-shim proxy restart` to serve with it"),
        "{}",
        stdout(&o)
    );
    let o = s.run(&["with", "demo", "--", "true"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "restarted the gateway on port {} (it ran agent-shim 0.0.1; this is {})",
            s.port,
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        stderr(&o)
    );
    assert!(old.exited_within(5), "the old gateway was stopped");
    let h: Value = serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap();
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn gateway_of_another_version_with_open_requests_says_what_to_do() {
    let s = Sandbox::new();
    let id = instance_id(&s);
    let mut old = old_gateway(
        &s,
        json!({"status": "healthy", "service": "agent-shim", "version": "0.0.1",
               "instance": id, "open_requests": 2}),
        true,
    );
    let o = s.run(&["models", "test", "demo"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "the gateway on port {} runs agent-shim 0.0.1 (this is {}) and has 2 requests in flight; \
             run `agent-shim proxy restart` when no agent is using it",
            s.port,
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        stderr(&o)
    );
    let o = s.run(&["proxy", "restart"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("2 requests are in flight") && stderr(&o).contains("--force"),
        "{}",
        stderr(&o)
    );
    assert!(old.0.try_wait().unwrap().is_none(), "still running");
    let o = s.run(&["proxy", "restart", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(old.exited_within(5));
    let h: Value = serde_json::from_str(&stdout(&s.run(&["proxy", "health"]))).unwrap();
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn gateway_from_before_the_handshake_is_told_by_its_pid_file() {
    // Ours (it holds our pid file), but too old to report open requests: not restarted blindly.
    let s = Sandbox::new();
    let health = json!({"status": "healthy", "service": "agent-shim", "version": "0.0.1"});
    let old = old_gateway(&s, health.clone(), true);
    let o = s.run(&["enter", "tok1", "demo"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot say whether requests are in flight")
            && stderr(&o).contains("agent-shim proxy restart"),
        "{}",
        stderr(&o)
    );
    let o = s.run(&["proxy", "stop"]);
    assert!(o.status.success(), "{}", stderr(&o));
    drop(old);

    // Not holding our pid file: another installation's.
    let old = old_gateway(&s, health, false);
    let o = s.run(&["proxy", "start"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(&format!(
            "port {} is served by another agent-shim (pid {}, another state dir than {})",
            s.port,
            old.0.id(),
            s.state_dir().display()
        )),
        "{}",
        stderr(&o)
    );
}
