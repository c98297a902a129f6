//! `agent-shim proxy start|stop|status|health`.

use crate::common::*;

#[test]
fn start_status_health_stop() {
    let s = Sandbox::new();
    let o = s.run(&["proxy", "status"]);
    assert_eq!(o.status.code(), Some(3), "not running yet");
    assert!(stdout(&o).contains("not running"));
    let o = s.run(&["proxy", "start"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains(&s.base_url()));
    let status = stdout(&s.run(&["proxy", "status"]));
    assert!(
        status.contains("gateway: running") && status.contains(&s.base_url()),
        "{status}"
    );
    let health = stdout(&s.run(&["proxy", "health"]));
    let h: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["status"], "healthy");
    let pid = h["pid"].as_u64().unwrap();
    let o = s.run(&["proxy", "start"]);
    assert!(
        stdout(&o).contains(&format!("pid {pid}")),
        "a second start reuses the running gateway"
    );
    let o = s.run(&["proxy", "stop"]);
    assert!(
        stdout(&o).contains(&format!("stopped (pid {pid})")),
        "{}",
        stdout(&o)
    );
    assert_eq!(s.run(&["proxy", "status"]).status.code(), Some(3));
    assert!(
        !s.state_dir()
            .join(format!("gateway-{}.pid", s.port))
            .exists(),
        "pid file removed"
    );
    let log = gateway_log_with(&s, "listening on");
    assert!(!log.contains("\u{1b}["), "plain-text log: {log}");
}

#[test]
fn a_port_taken_by_something_else_is_reported() {
    let s = Sandbox::new();
    let listener = std::net::TcpListener::bind(("127.0.0.1", s.port)).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut c = conn;
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
        }
    });
    let o = s.run(&["proxy", "start"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("something other than agent-shim")
            && stderr(&o).contains("AGENT_SHIM_PORT"),
        "{}",
        stderr(&o)
    );
}
