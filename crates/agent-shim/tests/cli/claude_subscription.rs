//! The built-in `claude-subscription` profile (the user's own Claude subscription through the
//! `claude` CLI, DESIGN.md §4.6): listed and shown with no key, entered and launched with no key
//! warning, its models listed by `/v1/models` once registered, and `models test` without the CLI
//! names `claude_path` and the npm package. The CLI's answers are in claude_code_sdk.rs.

use crate::common::*;

const TIERS: [&str; 3] = ["opus", "sonnet", "haiku"];

#[test]
fn the_profile_is_listed_shown_entered_and_launched_without_a_key() {
    let s = Sandbox::new();
    let list = stdout(&s.run(&["profiles", "list"]));
    let line = list
        .lines()
        .find(|l| l.starts_with("claude-subscription "))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        line.contains("Claude subscription") && line.ends_with("built-in"),
        "{line}"
    );
    let show = stdout(&s.run(&["profiles", "show", "claude-subscription"]));
    for tier in TIERS {
        let m = format!("claude-code/{tier}");
        let expected =
            format!("{tier:8} {m}  →  {m}  CLI `claude` on PATH  key the CLI's login  (built-in)");
        assert!(
            show.lines().any(|l| l == expected),
            "{expected:?} in:\n{show}"
        );
    }
    let models = stdout(&s.run(&["models", "list"]));
    for tier in TIERS {
        let m = format!("claude-code/{tier}");
        assert!(
            models.lines().any(|l| {
                let cols: Vec<&str> = l.split_whitespace().collect();
                cols == [m.as_str(), m.as_str(), "built-in"]
            }),
            "{m} in:\n{models}"
        );
    }

    let o = s.run(&["enter", "tok1", "claude-subscription"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "entering warns about nothing");
    assert_eq!(
        registered_models(&s),
        [
            "claude-code/haiku",
            "claude-code/opus",
            "claude-code/sonnet"
        ],
        "/v1/models lists the profile's claude-code groups"
    );
    // Its name is the longest profile name: the directories' columns stay aligned.
    assert!(s.run(&["enter", "tok2", "demo"]).status.success());
    let status = stdout(&s.run(&["status"]));
    let column = |profile: &str| {
        let line = status
            .lines()
            .find(|l| l.contains(&format!(" {profile} ")))
            .unwrap_or_else(|| panic!("{profile} in:\n{status}"));
        line.find(" shells 1  seen")
            .unwrap_or_else(|| panic!("{line}"))
    };
    assert_eq!(column("claude-subscription"), column("demo"), "{status}");
    for tier in TIERS {
        assert!(
            status.lines().any(
                |l| l.trim_start().starts_with(&format!("claude-code/{tier} "))
                    && l.contains("refs 1")
            ),
            "{tier} in:\n{status}"
        );
    }

    // `with` asks the gateway for the profile's keys before it launches: none is needed.
    let o = s.run(&[
        "with",
        "claude-subscription",
        "--",
        "sh",
        "-c",
        "printf '%s %s' \"$OPENAI_MODEL\" \"$ANTHROPIC_DEFAULT_OPUS_MODEL\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "claude-code/sonnet claude-code/opus");
    assert_eq!(stderr(&o), "", "no key warning");
}

#[test]
fn models_test_without_the_cli_names_claude_path_and_the_npm_package() {
    let s = Sandbox::new();
    // A PATH without `claude`, for this command and the gateway it starts.
    let empty = s.dir.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let o = s
        .cmd(&["models", "test", "claude-subscription"])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert_eq!(out.lines().count(), 3, "{out}");
    for tier in TIERS {
        let line = out
            .lines()
            .find(|l| l.contains(&format!("claude-code/{tier} ")))
            .unwrap_or_else(|| panic!("{tier} in:\n{out}"));
        assert!(line.starts_with("FAIL"), "{line}");
        for words in [
            "502 Bad Gateway",
            "not found at litellm_params.claude_path 'claude'",
            "npm install -g @anthropic-ai/claude-code",
        ] {
            assert!(line.contains(words), "{words:?} in {line}");
        }
    }
}
