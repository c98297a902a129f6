//! The gateway started exactly as the installed service starts it (the unit's ExecStart, the
//! plist's ProgramArguments): `proxy status` and `service status` agree on it, `proxy stop`
//! leaves it to `service stop`, `with`, `models test` and a Chat Completions client (the seed's
//! router) use it, and `proxy status` names a service installed for another address.

use super::*;

/// Starts the gateway exactly as the installed service does: the unit's ExecStart with its
/// Environment= and EnvironmentFile= (read as systemd does), or the plist's ProgramArguments
/// with its EnvironmentVariables (the `/bin/sh` wrapper reads the env file itself). Only HOME
/// comes from elsewhere, as a service manager gives it.
fn start_as_the_service(v: &Svc, manager: &str) -> Child {
    let (argv, env): (Vec<String>, Vec<(String, String)>) = if manager == "systemd" {
        let unit = std::fs::read_to_string(v.unit()).unwrap();
        let mut env = Vec::new();
        for line in unit.lines() {
            if let Some(rest) = line.strip_prefix("Environment=") {
                let w = unit_words(&rest.replace('$', "$$"));
                let (k, val) = w[0].split_once('=').unwrap();
                env.push((k.to_owned(), val.to_owned()));
            }
            if let Some(f) = line.strip_prefix("EnvironmentFile=") {
                for l in std::fs::read_to_string(f).unwrap().lines() {
                    let Some((k, val)) = l.split_once('=').filter(|_| !l.starts_with('#')) else {
                        continue;
                    };
                    let val = val.strip_prefix('"').unwrap().strip_suffix('"').unwrap();
                    let mut out = String::new();
                    let mut it = val.chars();
                    while let Some(c) = it.next() {
                        out.push(if c == '\\' { it.next().unwrap() } else { c });
                    }
                    env.push((k.to_owned(), out));
                }
            }
        }
        (exec_start(&unit), env)
    } else {
        let p = plist_json(&v.plist());
        let argv = p["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_owned())
            .collect();
        let env = p["EnvironmentVariables"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, val)| (k.clone(), val.as_str().unwrap().to_owned()))
            .collect();
        (argv, env)
    };
    Command::new(&argv[0])
        .args(&argv[1..])
        .env_clear()
        .env("HOME", v.s.home())
        .envs(env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// `name:` lines of a status output.
fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name} in {out}"))
        .trim()
}

#[test]
fn proxy_and_service_agree_on_the_gateway_the_service_runs() {
    for manager in ["systemd", "launchd"] {
        let (v, _) = installed_with_key(manager);
        let mut child = start_as_the_service(&v, manager);
        wait_until(15, "the service's gateway", || {
            v.run(&["proxy", "status"]).status.success()
        });
        let proxy = stdout(&v.run(&["proxy", "status"]));
        let o = v.run(&["service", "--manager", manager, "status"]);
        ok("service status", &o);
        let service = stdout(&o);
        for f in ["url:", "health:", "pid:", "version:", "service:"] {
            assert_eq!(
                field(&proxy, f),
                field(&service, f),
                "{manager} {f}\n{proxy}\n{service}"
            );
        }
        assert_eq!(field(&proxy, "url:"), v.s.base_url());
        assert_eq!(field(&proxy, "health:"), "healthy");
        assert_eq!(field(&proxy, "pid:"), child.id().to_string());
        // `proxy stop` leaves it to the service manager.
        let o = v.run(&["proxy", "stop"]);
        assert_eq!(o.status.code(), Some(1), "{manager}: {}", stdout(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("use `agent-shim service stop`"),
            "{}",
            stderr(&o)
        );
        let o = v.run(&["proxy", "restart"]);
        assert_eq!(o.status.code(), Some(1), "{manager}: {}", stdout(&o));
        assert!(
            stderr(&o).contains("use `agent-shim service restart`"),
            "{}",
            stderr(&o)
        );
        assert!(child.try_wait().unwrap().is_none(), "still running");
        // `with` uses it: the key check passes only because the gateway read SVC_TEST_KEY from
        // the env file (this command's environment has none).
        let o = v
            .cmd(&[
                "with",
                "svc",
                "--",
                "sh",
                "-c",
                "echo \"$ANTHROPIC_BASE_URL\"",
            ])
            .output()
            .unwrap();
        ok("with", &o);
        assert_eq!(stdout(&o).trim(), v.s.base_url());
        // The seed's router: Chat Completions for claude-code/sonnet with the master key.
        let body = serde_json::json!({"model": "claude-code/sonnet",
            "messages": [{"role": "user", "content": "hi"}]});
        let url = format!("{}/v1/chat/completions", v.s.base_url());
        let (status, text) = post_json(&url, &master_key(&v.s), &body).unwrap();
        assert_eq!(status, 200, "{text}");
        assert!(text.contains("hello from the service"), "{text}");
        // The seed's `manage.sh test`.
        let o = v.run(&["models", "test", "claude-code/sonnet"]);
        ok("models test", &o);
        assert!(
            stdout(&o).contains("hello from the service"),
            "{}",
            stdout(&o)
        );
        assert_eq!(
            field(&stdout(&v.run(&["proxy", "status"])), "pid:"),
            child.id().to_string(),
            "no other gateway was started"
        );
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
        assert!(child.wait().unwrap().success());
        let o = v.run(&["service", "--manager", manager, "status"]);
        assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
        assert!(
            stdout(&o).contains("gateway: not running"),
            "{}",
            stdout(&o)
        );
    }
}

#[test]
fn proxy_status_names_a_service_installed_for_another_port() {
    let v = Svc::new("offline");
    ok("install", &v.run(&["service", "install", "--port", "8013"]));
    let o = v.run(&["proxy", "status"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(
        stdout(&o).contains("the agent-shim service is installed for 127.0.0.1 port 8013"),
        "{}",
        stdout(&o)
    );
}
