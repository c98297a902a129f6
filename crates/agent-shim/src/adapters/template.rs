//! `${env:NAME}` and `${context:FIELD}` in profile `env` values (agent-run's `extra_env` syntax):
//! `env` reads this process's environment (an unset variable is an error), `context` a resolved
//! launch field: `provider`, `protocol`, `model`, `key`, `agent`, `base_url`.

/// The launch fields `${context:…}` can name.
pub struct Context<'a> {
    pub provider: &'a str,
    pub protocol: &'a str,
    pub model: &'a str,
    pub key: &'a str,
    pub agent: &'a str,
    pub base_url: &'a str,
}

/// `value` with every `${env:…}` and `${context:…}` replaced. Errors name the reference.
pub fn expand(value: &str, ctx: &Context) -> Result<String, String> {
    expand_with(value, ctx, &|n| std::env::var(n).ok())
}

fn expand_with(
    value: &str,
    ctx: &Context,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed `${{` in {value:?}"))?;
        let reference = &after[..end];
        let resolved = match reference.split_once(':') {
            Some(("env", name)) => env(name).ok_or_else(|| format!("`${{env:{name}}}`: {name} is not set"))?,
            Some(("context", field)) => match field {
                "provider" => ctx.provider,
                "protocol" => ctx.protocol,
                "model" => ctx.model,
                "key" => ctx.key,
                "agent" => ctx.agent,
                "base_url" => ctx.base_url,
                other => {
                    return Err(format!(
                        "`${{context:{other}}}`: unknown field; use provider, protocol, model, key, agent or base_url"
                    ));
                }
            }
            .to_owned(),
            _ => return Err(format!("`${{{reference}}}`: write ${{env:NAME}} or ${{context:FIELD}}")),
        };
        out.push_str(&resolved);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context<'static> {
        Context {
            provider: "groq",
            protocol: "openai-chat",
            model: "m",
            key: "k",
            agent: "codex",
            base_url: "http://h/v1",
        }
    }

    #[test]
    fn expands_env_and_context() {
        let env = |n: &str| (n == "CORP_PROXY").then(|| "http://proxy".to_owned());
        assert_eq!(
            expand_with("${context:agent}:${context:model}", &ctx(), &env).unwrap(),
            "codex:m"
        );
        assert_eq!(
            expand_with("via ${env:CORP_PROXY}!", &ctx(), &env).unwrap(),
            "via http://proxy!"
        );
        assert_eq!(expand_with("plain", &ctx(), &env).unwrap(), "plain");
    }

    #[test]
    fn errors_name_the_reference() {
        let env = |_: &str| None;
        assert!(
            expand_with("${env:NOPE}", &ctx(), &env)
                .unwrap_err()
                .contains("NOPE is not set")
        );
        assert!(
            expand_with("${context:colour}", &ctx(), &env)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(
            expand_with("${oops}", &ctx(), &env)
                .unwrap_err()
                .contains("${env:NAME}")
        );
        assert!(
            expand_with("${env:X", &ctx(), &env)
                .unwrap_err()
                .contains("unclosed")
        );
    }
}
