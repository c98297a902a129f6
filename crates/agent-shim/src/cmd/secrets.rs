//! `agent-shim secrets init|set <NAME>|list|export-env`: the `.secrets` file (DESIGN.md §3).

use crate::cli::SecretsAction;
use crate::error::{CliError, Result};
use crate::settings::{Settings, secrets};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

pub fn run(action: SecretsAction) -> Result<ExitCode> {
    let settings = Settings::load(&Default::default(), None)?;
    let path = settings.secrets_path();
    match action {
        SecretsAction::Init => {
            if path.exists() {
                secrets::read(&path)?;
                println!("{} already exists", path.display());
            } else {
                secrets::init(&path)?;
                println!(
                    "created {} (mode 0600); add keys with `agent-shim secrets set NAME`",
                    path.display()
                );
            }
        }
        SecretsAction::Set { name } => {
            let value = read_value(&name)?;
            secrets::set(&path, &name, &value)?;
            println!("set {name} in {}", path.display());
        }
        SecretsAction::List => {
            let file = secrets::read(&path)?;
            for name in file.keys() {
                println!("{name}  ({})", path.display());
            }
            for var in gateway::key_variables() {
                if !file.contains_key(var) && std::env::var(var).is_ok_and(|v| !v.is_empty()) {
                    println!("{var}  (environment)");
                }
            }
        }
        SecretsAction::ExportEnv => {
            for (k, v) in secrets::read(&path)? {
                println!("{k}={}", dotenv_quote(&v));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The value from stdin: prompted without echo on a terminal, else the first line.
fn read_value(name: &str) -> Result<String> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("value for {name}: "))
            .map_err(|e| CliError::failed(format!("cannot read the value: {e}")))?
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::failed(format!("cannot read the value from stdin: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    };
    if value.is_empty() {
        return Err(CliError::usage(format!(
            "empty value for {name}; nothing was changed"
        )));
    }
    Ok(value)
}

/// A `.env` value: bare when safe, else double-quoted with `\` and `"` escaped.
fn dotenv_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./:@+=".contains(c))
    {
        v.to_owned()
    } else {
        format!(
            "\"{}\"",
            v.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        )
    }
}
