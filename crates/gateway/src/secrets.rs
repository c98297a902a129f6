//! Where `os.environ/NAME` references are looked up. The binary supplies the real source (the
//! environment, then the `.secrets` file); tests use a map.

use crate::model::SecretString;
use std::collections::HashMap;

/// A lookup of secret values by variable name. Implementations must not log values. An empty
/// or blank value is no value ([`SecretString`] cannot hold one).
pub trait SecretSource: Send + Sync {
    /// The value of `name`, or `None` when it is not set anywhere.
    fn get(&self, name: &str) -> Option<SecretString>;
}

/// The process environment only.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvSecrets;

impl SecretSource for EnvSecrets {
    fn get(&self, name: &str) -> Option<SecretString> {
        std::env::var(name).ok().and_then(SecretString::new)
    }
}

impl SecretSource for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<SecretString> {
        HashMap::get(self, name).and_then(SecretString::new)
    }
}

/// What to say when the gateway has no key for a model: the gateway keeps the environment it was
/// started with (not the user's shell's, which may have the key), and `.secrets` is read at
/// use, so `secrets set` fixes it without a restart.
pub fn missing_key_message(model_name: &str, provider: &str, var: &str) -> String {
    format!(
        "no API key for model '{model_name}' (provider {provider}): the gateway was started without \
         {var} in its environment, and .secrets has none; run `agent-shim secrets set {var}` \
         (used at once, no restart), or export {var} and run `agent-shim proxy restart`"
    )
}

/// Runs a `key_command` (argv, no shell) and returns its trimmed stdout. `interactive` lets it
/// use the terminal (stdin and stderr inherited, for pinentry-style prompts); otherwise stdin is
/// closed. Errors name the program and never include its output.
///
/// Blocks until the command exits: the gateway calls it only while building deployments, which
/// happens at start, in a reload and in `/model/new`, each off the worker runtimes (a reload on
/// its own thread, `/model/new` through `spawn_blocking`).
#[allow(clippy::disallowed_methods)] // see above: never called on a worker runtime
pub fn run_key_command(argv: &[String], interactive: bool) -> Result<SecretString, String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "key_command is empty; give an argv list".to_owned())?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args).stdout(std::process::Stdio::piped());
    if interactive {
        cmd.stdin(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit());
    } else {
        cmd.stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
    let out = cmd
        .output()
        .map_err(|e| format!("key_command `{program}` could not run: {e}"))?;
    if !out.status.success() {
        return Err(format!("key_command `{program}` failed ({})", out.status));
    }
    let key = String::from_utf8(out.stdout)
        .map_err(|_| format!("key_command `{program}` printed non-UTF-8 output"))?;
    SecretString::new(key).ok_or_else(|| format!("key_command `{program}` printed nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_command_output_is_trimmed_and_failures_are_named() {
        let k = run_key_command(
            &["sh".into(), "-c".into(), "echo ' sk-from-cmd '".into()],
            false,
        )
        .unwrap();
        assert_eq!(k.expose(), "sk-from-cmd");
        let e = run_key_command(
            &["sh".into(), "-c".into(), "echo secret; exit 3".into()],
            false,
        )
        .unwrap_err();
        assert!(e.contains("`sh` failed") && !e.contains("secret"), "{e}");
        assert!(
            run_key_command(&["true".into()], false)
                .unwrap_err()
                .contains("printed nothing")
        );
        assert!(run_key_command(&[], false).unwrap_err().contains("empty"));
        assert!(
            run_key_command(&["/no/such/prog".into()], false)
                .unwrap_err()
                .contains("could not run")
        );
    }
}
