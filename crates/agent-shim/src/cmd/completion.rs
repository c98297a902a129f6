//! `agent-shim completion bash|zsh|fish`: completion scripts that ask this binary for the
//! candidates while the user types (clap_complete's dynamic completion, see [`crate::complete`]),
//! so profile and model names come from the user's own files and the remote model cache.
//!
//! - bash: clap_complete's registration, as is;
//! - zsh: clap_complete's, with its function named `_agent-shim` and the `#compdef` idiom that
//!   works both autoloaded from `fpath` (where `install` puts the file) and sourced;
//! - fish: the generated static completions (subcommands and flags with their help, known to
//!   fish without running anything), plus dynamic rules for the values (a word not starting
//!   with `-`) of the subcommands that take profile or model names, and for the arguments of
//!   `--model`, `--agent` and `--remote` (fish completes an option's argument from that
//!   option's rules only).
//!
//! The scripts call the binary at its absolute path (this executable's), as the hook does.

use crate::cli::{Cli, HookArgs, Shell};
use crate::error::Result;
use crate::settings::env_vars;
use clap::CommandFactory;
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};
use std::process::ExitCode;

const BIN: &str = "agent-shim";

/// The options (subcommand path, long name) whose values fish asks the binary for: fish
/// completes an option's argument from that option's rules only.
const FISH_DYNAMIC_OPTIONS: &[(&str, &str)] = &[
    ("with", "model"),
    ("with", "agent"),
    ("models list", "remote"),
];

/// The subcommand paths whose values fish asks the binary for.
const FISH_DYNAMIC: &[&str] = &[
    "with",
    "env",
    "set-folder",
    "enter",
    "profiles show",
    "models show",
    "models test",
    "models list",
];

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| BIN.to_owned());
    let mut out = Vec::new();
    let var = env_vars::COMPLETE;
    match shell {
        Shell::Bash => {
            let _ = Bash.write_registration(var, BIN, BIN, &exe, &mut out);
        }
        Shell::Zsh => {
            let mut reg = Vec::new();
            let _ = Zsh.write_registration(var, BIN, BIN, &exe, &mut reg);
            out = zsh(&String::from_utf8_lossy(&reg)).into_bytes();
        }
        Shell::Fish => {
            clap_complete::generate(
                clap_complete::Shell::Fish,
                &mut Cli::command(),
                BIN,
                &mut out,
            );
            let mut reg = Vec::new();
            let _ = Fish.write_registration(var, BIN, BIN, &exe, &mut reg);
            out.extend(fish_dynamic(&String::from_utf8_lossy(&reg)).into_bytes());
        }
    }
    out
}

/// clap_complete's zsh registration with the function named `_agent-shim`, ending with the
/// autoload-or-source idiom of clap's static zsh scripts.
fn zsh(reg: &str) -> String {
    let generated = format!("_clap_dynamic_completer_{}", BIN.replace('-', "_"));
    let body = reg.replace(&generated, "_agent-shim");
    let register = format!("compdef _agent-shim {BIN}");
    let body = body.trim_end();
    let body = body.strip_suffix(&register).unwrap_or(body);
    format!(
        "{body}\nif [ \"$funcstack[1]\" = \"_agent-shim\" ]; then\n    _agent-shim \"$@\"\nelse\n    {register}\nfi\n"
    )
}

/// clap_complete's fish rule (`complete … --arguments "(… dynamic call …)"`), restricted to
/// values of the subcommands in [`FISH_DYNAMIC`]: one rule each, alongside the static ones.
fn fish_dynamic(reg: &str) -> String {
    let Some(args) = reg
        .find("--arguments ")
        .map(|i| reg[i..].trim_end().to_owned())
    else {
        return String::new();
    };
    let mut out =
        String::from("\n# Values (profiles, models) from the binary, never the network.\n");
    let seen = |path: &str| {
        path.split(' ')
            .map(|w| format!("__fish_seen_subcommand_from {w}"))
            .collect::<Vec<_>>()
            .join("; and ")
    };
    for path in FISH_DYNAMIC {
        let cond = seen(path);
        out.push_str(&format!(
            "complete -c {BIN} -n \"{cond}; and not string match -q -- '-*' (commandline -ct)\" -f {args}\n"
        ));
    }
    for (path, long) in FISH_DYNAMIC_OPTIONS {
        let cond = seen(path);
        out.push_str(&format!(
            "complete -c {BIN} -n \"{cond}\" -l {long} -r -f {args}\n"
        ));
    }
    out
}

pub fn run(args: HookArgs) -> Result<ExitCode> {
    use std::io::Write;
    let _ = std::io::stdout().write_all(&script(args.shell));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zsh_script_defines_underscore_agent_shim_for_autoload_and_source() {
        let s = String::from_utf8(script(Shell::Zsh)).unwrap();
        assert!(s.starts_with("#compdef agent-shim\n"), "{s}");
        assert!(s.contains("function _agent-shim()"), "{s}");
        assert!(!s.contains("_clap_dynamic_completer"), "{s}");
        assert!(s.contains("AGENT_SHIM_COMPLETE=\"zsh\""), "{s}");
        assert!(
            s.trim_end().ends_with("compdef _agent-shim agent-shim\nfi"),
            "{s}"
        );
    }

    #[test]
    fn fish_script_is_static_plus_dynamic_values() {
        let s = String::from_utf8(script(Shell::Fish)).unwrap();
        assert!(s.contains("set-folder"), "the static subcommands stay");
        let dynamic: Vec<&str> = s
            .lines()
            .filter(|l| l.contains("AGENT_SHIM_COMPLETE=fish"))
            .collect();
        assert_eq!(
            dynamic.len(),
            FISH_DYNAMIC.len() + FISH_DYNAMIC_OPTIONS.len(),
            "{s}"
        );
        assert!(
            dynamic.iter().all(|l| l.contains("-f --arguments")),
            "{dynamic:?}"
        );
        assert!(
            dynamic.iter().any(|l| l.contains("-l model -r -f")),
            "{dynamic:?}"
        );
    }
}
