//! `agent-shim service …`: the systemd user unit (checked by `systemd-analyze verify`) and the
//! launchd plist (parsed by Python's `plistlib`), the env file holding the keys (mode 0600, and
//! nowhere else), install with and without a user systemd, uninstall leaving no file, `logs`,
//! bad input; in [`running`], the gateway started exactly as the unit (or plist) starts it:
//! `proxy status` and `service status` agree on it, `proxy stop` leaves it to `service stop`,
//! `with` uses it.
//!
//! No test talks to a real service manager. `systemctl`, `journalctl` and `launchctl` are
//! recorders put first on PATH: they append their arguments to a file and answer the two
//! questions install asks (`is-system-running`, `is-active`) from files the test writes. They
//! start nothing, so a test asserts the calls made, never that a service runs; the running
//! gateway is the unit's own command line, started by the test.

mod running;

use crate::common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

const EXE: &str = env!("CARGO_BIN_EXE_agent-shim");
const KEY: &str = "sk-svc-SECRET-4242$x\"y";

/// A sandbox with recorder `systemctl`, `journalctl` and (when asked) `launchctl` first on PATH.
struct Svc {
    s: Sandbox,
    bin: PathBuf,
}

impl Svc {
    /// `systemd`: what `systemctl --user is-system-running` answers (`running`, `offline`).
    fn new(systemd: &str) -> Svc {
        let s = Sandbox::new();
        let bin = s.dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let calls = s.dir.path().join("calls");
        let answers = s.dir.path().join("answers");
        std::fs::create_dir_all(&answers).unwrap();
        std::fs::write(answers.join("is-system-running"), systemd).unwrap();
        for tool in ["systemctl", "journalctl"] {
            let script = format!(
                "#!/bin/sh\n# A recorder: notes the call; answers only the questions install asks.\n\
                 echo \"{tool} $*\" >> '{calls}'\n\
                 case \"$2\" in\n\
                   is-system-running) s=$(cat '{a}/is-system-running'); echo \"$s\"; [ \"$s\" = running ];;\n\
                   is-active) [ -e '{a}/active' ];;\n\
                   *) exit 0;;\n\
                 esac\n",
                calls = calls.display(),
                a = answers.display()
            );
            let p = bin.join(tool);
            std::fs::write(&p, script).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Svc { s, bin }
    }

    fn path(&self) -> String {
        path_with(&self.bin)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.s.cmd(args);
        c.env("PATH", self.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// The recorded calls, one per line.
    fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.s.dir.path().join("calls"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn unit(&self) -> PathBuf {
        self.s
            .home()
            .join(".config/systemd/user/agent-shim.service")
    }

    fn plist(&self) -> PathBuf {
        self.s
            .home()
            .join("Library/LaunchAgents/dev.agent-shim.gateway.plist")
    }

    fn env_file(&self) -> PathBuf {
        self.s.config_dir().join("service.env")
    }
}

fn ok(what: &str, o: &Output) {
    assert_ok(what, o);
}

/// Every file (and link) under `dir`, relative.
fn files(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// `systemd-analyze verify --user` on `unit`, with a private runtime dir (no systemd runs
/// here). Warnings (an unknown key, a bad value) leave its exit code 0, so any output fails too.
fn verify(s: &Sandbox, unit: &Path) -> Result<(), String> {
    let run = s.dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
    let o = Command::new("systemd-analyze")
        .args(["verify", "--user", "--man=no"])
        .arg(unit)
        .env_clear()
        .env("HOME", s.home())
        .env("XDG_RUNTIME_DIR", &run)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("systemd-analyze (Debian's systemd package; .ci/run installs it)");
    let said = format!("{}{}", stdout(&o), stderr(&o));
    if o.status.success() && said.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("exit {:?}: {said}", o.status.code()))
    }
}

/// Models for the service: `svc-key` reads its key from `SVC_TEST_KEY` (set when installing),
/// `svc-missing` from a variable set nowhere, `claude-code/sonnet` answers canned text (the
/// seed's router asks for it), and a profile `svc` on `svc-key`.
/// A sandbox with the test models, the service installed for `manager` from a shell where
/// `SVC_TEST_KEY` holds [`KEY`], and what install printed.
fn installed_with_key(manager: &str) -> (Svc, Output) {
    let v = Svc::new("offline");
    models(&v.s);
    let o = v
        .cmd(&["service", "--manager", manager, "install"])
        .env("SVC_TEST_KEY", KEY)
        .output()
        .unwrap();
    ok("install", &o);
    (v, o)
}

fn models(s: &Sandbox) {
    s.write_config(
        "models.yaml",
        "model_list:\n\
         - model_name: svc-key\n  litellm_params:\n    model: openai/x\n    api_base: http://127.0.0.1:9/v1\n    api_key: os.environ/SVC_TEST_KEY\n\
         - model_name: svc-missing\n  litellm_params:\n    model: openai/y\n    api_base: http://127.0.0.1:9/v1\n    api_key: os.environ/SVC_UNSET_KEY\n\
         - model_name: claude-code/sonnet\n  litellm_params:\n    model: openai/canned\n    mock_response: hello from the service\n",
    );
    s.write_config(
        "profiles/svc.yaml",
        "meta:\n  name: svc\n  opus_model: svc-key\n  sonnet_model: svc-key\n  haiku_model: svc-key\n",
    );
}

#[test]
fn install_without_a_user_systemd_prints_the_commands_and_uninstall_leaves_nothing() {
    let v = Svc::new("offline");
    models(&v.s);
    let before = files(&v.s.home());
    let o = v
        .cmd(&["service", "install"])
        .env("SVC_TEST_KEY", KEY)
        .output()
        .unwrap();
    ok("install", &o);
    let out = stdout(&o);
    assert!(
        out.contains("offline")
            && out.contains("  systemctl --user daemon-reload\n")
            && out.contains("  systemctl --user enable --now agent-shim.service\n"),
        "{out}"
    );
    assert_eq!(
        v.calls(),
        ["systemctl --user is-system-running"],
        "nothing else is run"
    );
    let unit = std::fs::read_to_string(v.unit()).unwrap();
    assert!(unit.contains("Restart=on-failure\n"), "{unit}");
    // Installing again rewrites the same two files.
    ok(
        "install again",
        &v.cmd(&["service", "install"])
            .env("SVC_TEST_KEY", KEY)
            .output()
            .unwrap(),
    );
    let installed = files(&v.s.home());
    let added: Vec<_> = installed.difference(&before).collect();
    assert_eq!(
        added,
        [
            Path::new(".config/agent-shim/service.env"),
            Path::new(".config/systemd/user/agent-shim.service")
        ],
        "install writes the unit and the env file, nothing else"
    );
    let o = v.run(&["service", "uninstall"]);
    ok("uninstall", &o);
    assert_eq!(files(&v.s.home()), before, "{}", stdout(&o));
    let o = v.run(&["service", "uninstall"]);
    ok("uninstall again", &o);
    assert!(stdout(&o).contains("not installed"), "{}", stdout(&o));
}

#[test]
fn install_with_a_user_systemd_enables_and_starts_it_and_restarts_it_when_reinstalled() {
    let v = Svc::new("running");
    let o = v.run(&["service", "install"]);
    ok("install", &o);
    assert_eq!(
        v.calls(),
        [
            "systemctl --user is-system-running",
            "systemctl --user is-active --quiet agent-shim.service",
            "systemctl --user daemon-reload",
            "systemctl --user enable --now agent-shim.service",
        ]
    );
    // It runs now (the recorder says so): a new install restarts it onto the new files.
    std::fs::write(v.s.dir.path().join("answers/active"), "").unwrap();
    std::fs::remove_file(v.s.dir.path().join("calls")).unwrap();
    ok(
        "install again",
        &v.run(&[
            "service",
            "install",
            "--port",
            "8013",
            "--host",
            "127.0.0.2",
        ]),
    );
    assert_eq!(
        v.calls()[2..],
        [
            "systemctl --user daemon-reload",
            "systemctl --user enable --now agent-shim.service",
            "systemctl --user restart agent-shim.service",
        ]
    );
    let unit = std::fs::read_to_string(v.unit()).unwrap();
    assert!(
        unit.contains(" serve --host 127.0.0.2 --port 8013 --managed-by systemd\n"),
        "{unit}"
    );
    for (action, call) in [
        ("stop", "systemctl --user stop agent-shim.service"),
        ("start", "systemctl --user start agent-shim.service"),
        ("restart", "systemctl --user restart agent-shim.service"),
    ] {
        std::fs::remove_file(v.s.dir.path().join("calls")).unwrap();
        ok(action, &v.run(&["service", action]));
        assert_eq!(v.calls(), [call]);
    }
    std::fs::remove_file(v.s.dir.path().join("calls")).unwrap();
    ok("uninstall", &v.run(&["service", "uninstall"]));
    assert_eq!(
        v.calls(),
        [
            "systemctl --user is-system-running",
            "systemctl --user disable --now agent-shim.service",
            "systemctl --user daemon-reload",
        ]
    );
    assert!(!v.unit().exists() && !v.env_file().exists());
}

#[test]
fn xdg_config_home_holds_the_unit_and_the_env_file() {
    let v = Svc::new("offline");
    let xdg = v.s.dir.path().join("xdg");
    let o = v
        .cmd(&["service", "install"])
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .unwrap();
    ok("install", &o);
    let want: BTreeSet<PathBuf> = ["agent-shim/service.env", "systemd/user/agent-shim.service"]
        .into_iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(files(&xdg), want);
    let o = v
        .cmd(&["service", "uninstall"])
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .unwrap();
    ok("uninstall", &o);
    assert!(files(&xdg).is_empty());
}

#[test]
fn the_unit_passes_systemd_analyze_verify_and_a_broken_one_does_not() {
    let v = Svc::new("offline");
    // A config path with a space, a quote and a percent sign: quoted and escaped in ExecStart.
    let cfg = v.s.dir.path().join("my 100% \"configs\"/gateway.yaml");
    std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
    std::fs::write(&cfg, "port: 4555\n").unwrap();
    let o = v.run(&["service", "install", "--config", cfg.to_str().unwrap()]);
    ok("install", &o);
    let unit = std::fs::read_to_string(v.unit()).unwrap();
    verify(&v.s, &v.unit()).unwrap_or_else(|e| panic!("{e}\n{unit}"));
    assert_eq!(
        exec_start(&unit)[6..8],
        ["--config".to_owned(), cfg.display().to_string()]
    );
    // The check is real: a bad value fails it.
    let broken = v.s.dir.path().join("broken/agent-shim.service");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    std::fs::write(
        &broken,
        unit.replace("Restart=on-failure", "Restart=sometimes"),
    )
    .unwrap();
    assert!(verify(&v.s, &broken).is_err(), "a broken unit must fail");
}

/// The words of the unit's ExecStart (its quoting: `"…"` with `\"` and `\\`, `%%`, `$$`).
fn exec_start(unit: &str) -> Vec<String> {
    let line = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap();
    unit_words(line)
}

fn unit_words(line: &str) -> Vec<String> {
    let (mut words, mut cur, mut quoted) = (Vec::new(), None::<String>, false);
    let mut it = line.chars().peekable();
    while let Some(c) = it.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.get_or_insert_default();
            }
            '\\' if quoted => cur.get_or_insert_default().push(it.next().unwrap()),
            '%' | '$' if it.peek() == Some(&c) => {
                it.next();
                cur.get_or_insert_default().push(c);
            }
            ' ' if !quoted => words.extend(cur.take()),
            c => cur.get_or_insert_default().push(c),
        }
    }
    words.extend(cur);
    words
}

/// The plist as JSON, read by Python's plistlib (not by the crate that wrote it).
fn plist_json(path: &Path) -> Value {
    let o = Command::new("python3")
        .args([
            "-c",
            "import json, plistlib, sys; print(json.dumps(plistlib.load(open(sys.argv[1], 'rb'))))",
        ])
        .arg(path)
        .output()
        .expect("python3");
    assert!(o.status.success(), "plistlib: {}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

#[test]
fn the_launchd_plist_parses_and_uninstall_leaves_nothing() {
    let v = Svc::new("offline");
    let before = files(&v.s.home());
    let o = v.run(&["service", "--manager", "launchd", "install"]);
    ok("install", &o);
    let uid = rustix::process::getuid().as_raw();
    assert!(
        stdout(&o).contains(&format!(
            "  launchctl bootstrap gui/{uid} {}\n",
            v.plist().display()
        )),
        "{}",
        stdout(&o)
    );
    let p = plist_json(&v.plist());
    assert_eq!(p["Label"], "dev.agent-shim.gateway");
    assert_eq!(p["RunAtLoad"], true);
    assert_eq!(
        p["KeepAlive"]["SuccessfulExit"], false,
        "restarted on failure only"
    );
    let exe = std::fs::canonicalize(EXE).unwrap();
    let port = v.s.port.to_string();
    let env_file = v.env_file();
    assert_eq!(
        p["ProgramArguments"],
        serde_json::json!([
            "/bin/sh",
            "-c",
            r#"set -a && . "$0" && set +a && exec "$@""#,
            env_file,
            exe,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--managed-by",
            "launchd"
        ])
    );
    assert_eq!(p["EnvironmentVariables"]["PATH"], v.path());
    let log = v.s.state_dir().join(format!("gateway-{port}.log"));
    assert_eq!(p["StandardOutPath"], log.display().to_string());
    assert_eq!(p["StandardErrorPath"], log.display().to_string());
    ok(
        "uninstall",
        &v.run(&["service", "--manager", "launchd", "uninstall"]),
    );
    assert_eq!(files(&v.s.home()), before);
}

#[test]
fn the_env_file_holds_the_keys_and_nothing_else_does() {
    for manager in ["systemd", "launchd"] {
        let (v, o) = installed_with_key(manager);
        let env = std::fs::read_to_string(v.env_file()).unwrap();
        let mode = std::fs::metadata(v.env_file())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{manager}");
        assert!(
            env.contains("\nSVC_TEST_KEY=\"sk-svc-SECRET-4242\\$x\\\"y\"\n"),
            "{manager}: {env}"
        );
        assert!(env.contains("\n# SVC_UNSET_KEY=  (not set"), "{env}");
        assert!(
            stderr(&o).contains("warning: ") && stderr(&o).contains("SVC_UNSET_KEY"),
            "{}",
            stderr(&o)
        );
        assert!(
            stdout(&o).contains("SVC_TEST_KEY from this environment"),
            "{}",
            stdout(&o)
        );
        let definition = if manager == "systemd" {
            v.unit()
        } else {
            v.plist()
        };
        let status = v.run(&["service", "--manager", manager, "status"]);
        for (what, text) in [
            (
                "the service file",
                std::fs::read_to_string(&definition).unwrap(),
            ),
            ("install's output", format!("{}{}", stdout(&o), stderr(&o))),
            ("status", format!("{}{}", stdout(&status), stderr(&status))),
        ] {
            assert!(
                !text.contains("SECRET"),
                "{manager}: {what} shows the key: {text}"
            );
        }
    }
}

#[test]
fn logs_read_the_journal_or_the_log_file() {
    let v = Svc::new("offline");
    ok("install", &v.run(&["service", "install"]));
    std::fs::remove_file(v.s.dir.path().join("calls")).unwrap();
    ok("logs", &v.run(&["service", "logs", "-f", "-n", "50"]));
    assert_eq!(
        v.calls(),
        ["journalctl --user -u agent-shim.service -n 50 -f"]
    );
    ok(
        "install",
        &v.run(&["service", "--manager", "launchd", "install"]),
    );
    let log = v.s.state_dir().join(format!("gateway-{}.log", v.s.port));
    std::fs::write(&log, "one\ntwo\nthree\n").unwrap();
    let o = v.run(&["service", "--manager", "launchd", "logs", "-n", "2"]);
    ok("logs", &o);
    assert_eq!(stdout(&o), "two\nthree\n");
}

#[test]
fn bad_input_is_one_line_and_exit_code_2() {
    let v = Svc::new("offline");
    let bad = v.s.dir.path().join("bad.yaml");
    std::fs::write(&bad, "port: [oops\n").unwrap();
    let bad = bad.display().to_string();
    for (args, says) in [
        (
            vec!["--config", "/nonexistent/gateway.yaml"],
            "--config /nonexistent/gateway.yaml: no such file",
        ),
        (vec!["--config", bad.as_str()], bad.as_str()),
        (vec!["--port", "0"], "--port 0"),
    ] {
        let mut all = vec!["service", "install"];
        all.extend(&args);
        let o = v.run(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    let o = v.run(&["service", "install", "--port", "70000"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).lines().next().unwrap().contains("--port"),
        "{}",
        stderr(&o)
    );
    assert!(
        !v.unit().exists() && !v.env_file().exists(),
        "nothing written"
    );
    let o = v.run(&["service", "stop"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not installed"), "{}", stderr(&o));
}
