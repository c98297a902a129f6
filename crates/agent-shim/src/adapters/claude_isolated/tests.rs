use super::*;
use serde_json::json;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("an object: {v}"),
    }
}

fn user_in(home: &Path) -> UserConfig {
    UserConfig {
        dir: home.join(".claude"),
        state_file: home.join(".claude.json"),
    }
}

#[test]
fn derive_removes_routing_keys_keeps_the_rest_and_adds_the_launch_env() {
    let user = obj(json!({
        "model": "opus",
        "env": {
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "ANTHROPIC_MODEL": "us.anthropic.claude-opus-4-6-v1",
            "AWS_BEARER_TOKEN_BEDROCK": "tok",
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": "x",
            "AWS_PROFILE": "work",
            "MY_TOOL": "on"
        },
        "awsCredentialExport": "creds.sh",
        "permissions": {"allow": ["Bash(ls)"]}
    }));
    let env = obj(json!({"ANTHROPIC_BASE_URL": "http://127.0.0.1:4444",
                         "ANTHROPIC_DEFAULT_HAIKU_MODEL": "qwen3-coder"}));
    let d = derive(&user, &env, Some("aws sso login --profile X"));
    assert_eq!(
        Value::Object(d.clone()),
        json!({
            "model": "opus",
            "env": {
                "ANTHROPIC_DEFAULT_HAIKU_MODEL": "qwen3-coder",
                "AWS_PROFILE": "work",
                "MY_TOOL": "on",
                "ANTHROPIC_BASE_URL": "http://127.0.0.1:4444"
            },
            "awsAuthRefresh": "aws sso login --profile X",
            "permissions": {"allow": ["Bash(ls)"]}
        })
    );
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["model", "env", "awsAuthRefresh", "permissions"],
        "the user's key order is kept"
    );
    // No refresh command from the profile: the export command goes, a user refresh stays.
    let d = derive(&user, &env, None);
    assert!(!d.contains_key("awsCredentialExport") && !d.contains_key("awsAuthRefresh"));
    let mine = obj(json!({"awsAuthRefresh": "mine"}));
    assert_eq!(derive(&mine, &env, None)["awsAuthRefresh"], "mine");
    assert_eq!(derive(&mine, &env, Some("p"))["awsAuthRefresh"], "p");
    // No env, or an env that is not an object: the launch's.
    assert_eq!(
        derive(&Map::new(), &env, None)["env"],
        Value::Object(env.clone())
    );
    let odd = obj(json!({"env": ["x"]}));
    assert_eq!(derive(&odd, &env, None)["env"], Value::Object(env));
}

#[test]
fn routing_keys_in_names_only_set_values() {
    let s = obj(json!({"env": {
        "ANTHROPIC_MODEL": "m", "CLAUDE_CODE_USE_BEDROCK": "", "CLAUDE_CODE_USE_VERTEX": null,
        "ANTHROPIC_BASE_URL": "http://x", "OTHER": "1"}}));
    assert_eq!(
        routing_keys_in(&s),
        ["ANTHROPIC_MODEL", "ANTHROPIC_BASE_URL"]
    );
    assert!(routing_keys_in(&obj(json!({"env": "nope"}))).is_empty());
}

#[test]
fn public_env_holds_no_key() {
    let env = obj(json!({
        "ANTHROPIC_AUTH_TOKEN": "sk-gw-1", "ANTHROPIC_API_KEY": "",
        "X_HEADER": "Bearer sk-gw-1", "ANTHROPIC_BASE_URL": "http://h"}));
    assert_eq!(
        Value::Object(public_env(&env, "sk-gw-1")),
        json!({"ANTHROPIC_BASE_URL": "http://h"})
    );
}

#[test]
fn the_users_config_dir_comes_from_claude_config_dir_or_home() {
    let state = tempfile::tempdir().unwrap();
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| OsString::from(v))
        }
    };
    let u = UserConfig::from_env(state.path(), &env(&[("HOME", "/h")]));
    assert_eq!(u, user_in(Path::new("/h")));
    let u = UserConfig::from_env(
        state.path(),
        &env(&[("HOME", "/h"), ("CLAUDE_CONFIG_DIR", "/c")]),
    );
    assert_eq!(u.dir, Path::new("/c"));
    assert_eq!(u.state_file, Path::new("/c/.claude.json"));

    // Launched from inside an isolated Claude Code: the user's dir it was made from.
    let recorded = UserConfig {
        dir: "/c".into(),
        state_file: "/c/.claude.json".into(),
    };
    let dir = prepare_dir(state.path(), "p", &recorded, &Map::new(), None).unwrap();
    let dir_s = dir.display().to_string();
    let u = UserConfig::from_env(state.path(), &|k: &str| match k {
        "HOME" => Some("/h".into()),
        "CLAUDE_CONFIG_DIR" => Some(dir_s.clone().into()),
        _ => None,
    });
    assert_eq!(u, recorded);
}

/// Every entry of `dir`: name → link target, or `file`/`dir`.
fn listing(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let t = e.file_type().unwrap();
            let what = if t.is_symlink() {
                std::fs::read_link(e.path()).unwrap().display().to_string()
            } else if t.is_dir() {
                "dir".into()
            } else {
                "file".into()
            };
            (e.file_name().to_string_lossy().into_owned(), what)
        })
        .collect()
}

#[test]
fn prepare_dir_links_the_users_entries_and_updates_them_on_the_next_launch() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let state = t.path().join("state");
    let user = user_in(&home);
    std::fs::create_dir_all(user.dir.join("projects")).unwrap();
    std::fs::write(user.dir.join("history.jsonl"), "{}\n").unwrap();
    std::fs::write(user.dir.join(".credentials.json"), "{}").unwrap();
    let settings = r#"{"env": {"CLAUDE_CODE_USE_BEDROCK": "1"}, "theme": "dark"}"#;
    std::fs::write(user.settings_path(), settings).unwrap();
    let env = obj(json!({"ANTHROPIC_BASE_URL": "http://gw"}));

    let dir = prepare_dir(&state, "bedrock", &user, &env, None).unwrap();
    assert_eq!(dir, state.join("claude-isolated/bedrock"));
    let s = |p: &Path| p.display().to_string();
    let want: BTreeMap<String, String> = [
        (".agent-shim-source.json", "file".to_owned()),
        (".claude.json", s(&user.state_file)),
        (".credentials.json", s(&user.dir.join(".credentials.json"))),
        ("history.jsonl", s(&user.dir.join("history.jsonl"))),
        ("projects", s(&user.dir.join("projects"))),
        ("settings.json", "file".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(listing(&dir), want);
    let derived: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        derived,
        json!({"env": {"ANTHROPIC_BASE_URL": "http://gw"}, "theme": "dark"})
    );
    for (p, mode) in [(dir.clone(), 0o700), (dir.join("settings.json"), 0o600)] {
        let got = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "{}", p.display());
    }
    assert_eq!(
        std::fs::read_to_string(user.settings_path()).unwrap(),
        settings
    );

    // Claude Code made its own entry; the user removed one entry and added another.
    std::fs::create_dir(dir.join("sessions")).unwrap();
    std::fs::remove_file(user.dir.join(".credentials.json")).unwrap();
    std::fs::create_dir(user.dir.join("plugins")).unwrap();
    std::fs::write(user.settings_path(), r#"{"theme": "light"}"#).unwrap();
    let dir2 = prepare_dir(&state, "bedrock", &user, &env, Some("aws sso login")).unwrap();
    assert_eq!(dir2, dir);
    let l = listing(&dir);
    assert!(!l.contains_key(".credentials.json"), "{l:?}");
    assert_eq!(l["plugins"], s(&user.dir.join("plugins")));
    assert_eq!(l["sessions"], "dir", "Claude Code's own entry is kept");
    let derived: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("settings.json")).unwrap()).unwrap();
    assert_eq!(
        derived,
        json!({"theme": "light", "env": {"ANTHROPIC_BASE_URL": "http://gw"},
               "awsAuthRefresh": "aws sso login"})
    );
    assert!(
        !l.keys().any(|n| n.starts_with(TMP)),
        "no temporary is left: {l:?}"
    );
}

#[test]
fn a_settings_link_in_the_isolated_dir_is_replaced_not_written_through() {
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    let state = t.path().join("state");
    let user = user_in(&home);
    std::fs::create_dir_all(&user.dir).unwrap();
    let original = r#"{"env": {"ANTHROPIC_MODEL": "x"}}"#;
    std::fs::write(user.settings_path(), original).unwrap();
    let dir = state.join("claude-isolated/p");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(user.settings_path(), dir.join("settings.json")).unwrap();
    prepare_dir(&state, "p", &user, &Map::new(), None).unwrap();
    assert_eq!(
        std::fs::read_to_string(user.settings_path()).unwrap(),
        original
    );
    assert!(
        !std::fs::symlink_metadata(dir.join("settings.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn user_settings_that_are_not_a_json_object_are_reported_and_taken_as_empty() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("settings.json");
    assert_eq!(
        read_user_settings(&p),
        (Map::new(), None),
        "missing: empty, silently"
    );
    std::fs::write(&p, "{\"env\": {,}").unwrap();
    let (m, problem) = read_user_settings(&p);
    assert!(m.is_empty());
    let problem = problem.unwrap();
    assert!(
        problem.starts_with(&format!("{}:1:", p.display()))
            && problem.contains("not valid JSON")
            && problem.contains("fix the file"),
        "{problem}"
    );
    std::fs::write(&p, "[1]").unwrap();
    assert!(
        read_user_settings(&p)
            .1
            .unwrap()
            .contains("not a JSON object")
    );
}

#[test]
fn the_warning_names_the_file_and_only_keys_the_launch_does_not_override() {
    let t = tempfile::tempdir().unwrap();
    let user = user_in(t.path());
    std::fs::create_dir_all(&user.dir).unwrap();
    let ours = obj(json!({"ANTHROPIC_BASE_URL": "http://gw"}));
    assert_eq!(
        override_warning(&user.settings_path(), &ours, "p"),
        None,
        "no settings"
    );
    std::fs::write(
        user.settings_path(),
        r#"{"env": {"ANTHROPIC_BASE_URL": "http://elsewhere", "CLAUDE_CODE_USE_BEDROCK": "1"}}"#,
    )
    .unwrap();
    let w = override_warning(&user.settings_path(), &ours, "p").unwrap();
    assert!(
        w.starts_with(&format!(
            "{} sets CLAUDE_CODE_USE_BEDROCK in `env`",
            user.settings_path().display()
        )) && w.contains("--isolated")
            && w.contains("isolated: true")
            && !w.contains("ANTHROPIC_BASE_URL"),
        "{w}"
    );
}
