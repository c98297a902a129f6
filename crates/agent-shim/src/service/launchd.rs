//! The launchd agent (`~/Library/LaunchAgents/dev.agent-shim.gateway.plist`), written and read
//! back with the `plist` crate. launchd has no env-file setting, so the agent runs `/bin/sh` to
//! read the env file (`set -a; . FILE`) and then `exec`s this binary's `serve`: the keys reach
//! the gateway's environment without being in the plist or on a command line. The gateway's
//! output goes to the log file `proxy start` uses, under the state dir.

use super::{LABEL, Parsed, Spec};
use crate::error::{CliError, Result};
use plist::{Dictionary, Value};
use std::path::{Path, PathBuf};

/// The script `/bin/sh -c` runs: `$0` is the env file, the rest is the gateway's command line.
pub const WRAPPER: &str = r#"set -a && . "$0" && set +a && exec "$@""#;

/// The login session's launchd domain, `gui/<uid>`.
pub fn domain() -> String {
    format!("gui/{}", rustix::process::getuid().as_raw())
}

/// The agent in that domain, `gui/<uid>/<label>`.
pub fn target() -> String {
    format!("{}/{LABEL}", domain())
}

/// The agent's plist (XML) for `spec`.
pub fn render(spec: &Spec) -> Result<Vec<u8>> {
    let text = |p: &Path| Value::String(p.display().to_string());
    let mut argv = vec![
        Value::String("/bin/sh".into()),
        Value::String("-c".into()),
        Value::String(WRAPPER.into()),
        text(&spec.env_file),
        text(&spec.exe),
    ];
    argv.extend(spec.args.iter().cloned().map(Value::String));
    let mut env = Dictionary::new();
    for (k, v) in &spec.env {
        env.insert(k.clone(), Value::String(v.clone()));
    }
    let mut keep_alive = Dictionary::new();
    // Restarted when it exits with a failure, not after a clean stop.
    keep_alive.insert("SuccessfulExit".into(), Value::Boolean(false));
    let mut d = Dictionary::new();
    d.insert("Label".into(), Value::String(LABEL.into()));
    d.insert("ProgramArguments".into(), Value::Array(argv));
    d.insert("EnvironmentVariables".into(), Value::Dictionary(env));
    d.insert("RunAtLoad".into(), Value::Boolean(true));
    d.insert("KeepAlive".into(), Value::Dictionary(keep_alive));
    d.insert("ThrottleInterval".into(), Value::Integer(2.into()));
    d.insert("ProcessType".into(), Value::String("Background".into()));
    d.insert("StandardOutPath".into(), text(&spec.log));
    d.insert("StandardErrorPath".into(), text(&spec.log));
    let mut out = Vec::new();
    Value::Dictionary(d)
        .to_writer_xml(&mut out)
        .map_err(|e| CliError::failed(format!("cannot write the launchd plist: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

/// What the plist at `path` runs: `ProgramArguments`, `EnvironmentVariables` and the env file
/// its wrapper reads.
pub fn read(path: &Path) -> Result<Parsed> {
    let bad = |why: String| {
        CliError::failed(format!(
            "{}: {why}; run `agent-shim service install` to rewrite it",
            path.display()
        ))
    };
    let v = Value::from_file(path).map_err(|e| bad(e.to_string()))?;
    let d = v
        .as_dictionary()
        .ok_or_else(|| bad("not a dictionary".into()))?;
    let argv: Vec<String> = d
        .get("ProgramArguments")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no ProgramArguments".into()))?
        .iter()
        .filter_map(|a| a.as_string().map(str::to_owned))
        .collect();
    let env = d
        .get("EnvironmentVariables")
        .and_then(Value::as_dictionary)
        .map(|e| {
            e.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_string()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    // `/bin/sh -c WRAPPER <env file> <agent-shim> serve …`
    let env_file = (argv.get(2).map(String::as_str) == Some(WRAPPER))
        .then(|| argv.get(3).map(PathBuf::from))
        .flatten();
    Ok(Parsed {
        argv,
        env,
        env_file,
    })
}
