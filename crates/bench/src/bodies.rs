//! Request bodies, built deterministically: a small OpenAI chat request (W1), and a
//! Claude-Code-sized conversation (long system prompt, 24 tools with realistic JSON schemas, a
//! tool_use/tool_result round trip in the history) in Anthropic Messages form (W2, W3), in
//! OpenAI Responses form (W4) and in OpenAI Chat Completions form (W5).

use serde_json::{Value, json};

/// The model every client asks for (the gateways map it to the fake upstream).
pub const MODEL: &str = "fake";
/// The model whose upstream streams slowly (the open-streams measurement).
pub const SLOW_MODEL: &str = "fake-slow";

/// W1: a small OpenAI Chat Completions request.
pub fn small_chat() -> Value {
    json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello in one short sentence."}
        ],
        "max_tokens": 64
    })
}

/// A small streaming Anthropic request (the open-streams measurement).
pub fn small_anthropic_stream(model: &str) -> Value {
    json!({
        "model": model,
        "max_tokens": 1024,
        "stream": true,
        "messages": [{"role": "user", "content": "Count slowly."}]
    })
}

const SECTIONS: &[(&str, &str)] = &[
    (
        "Tone and style",
        "You should be concise, direct, and to the point. When you run a non-trivial bash command, \
         you should explain what the command does and why you are running it, to make sure the user \
         understands what you are doing. Your output will be displayed on a command line interface. \
         Your responses can use GitHub-flavored markdown for formatting, and will be rendered in a \
         monospace font. Output text to communicate with the user; all text you output outside of \
         tool use is displayed to the user. Only use tools to complete tasks. Never use tools like \
         Bash or code comments as means to communicate with the user during the session.",
    ),
    (
        "Proactiveness",
        "You are allowed to be proactive, but only when the user asks you to do something. You \
         should strive to strike a balance between doing the right thing when asked, including \
         taking actions and follow-up actions, and not surprising the user with actions you take \
         without asking. For example, if the user asks you how to approach something, you should do \
         your best to answer their question first, and not immediately jump into taking actions.",
    ),
    (
        "Following conventions",
        "When making changes to files, first understand the file's code conventions. Mimic code \
         style, use existing libraries and utilities, and follow existing patterns. NEVER assume \
         that a given library is available, even if it is well known. Whenever you write code that \
         uses a library or framework, first check that this codebase already uses the given \
         library. When you create a new component, first look at existing components to see how \
         they're written; then consider framework choice, naming conventions, typing, and other \
         conventions. Always follow security best practices. Never introduce code that exposes or \
         logs secrets and keys. Never commit secrets or keys to the repository.",
    ),
    (
        "Task management",
        "You have access to the TodoWrite tool to help you manage and plan tasks. Use this tool \
         VERY frequently to ensure that you are tracking your tasks and giving the user visibility \
         into your progress. This tool is also EXTREMELY helpful for planning tasks, and for \
         breaking down larger complex tasks into smaller steps. If you do not use this tool when \
         planning, you may forget to do important tasks - and that is unacceptable. It is critical \
         that you mark todos as completed as soon as you are done with a task. Do not batch up \
         multiple tasks before marking them as completed.",
    ),
    (
        "Doing tasks",
        "The user will primarily request you perform software engineering tasks. This includes \
         solving bugs, adding new functionality, refactoring code, explaining code, and more. For \
         these tasks the following steps are recommended: use the TodoWrite tool to plan the task \
         if required; use the available search tools to understand the codebase and the user's \
         query; implement the solution using all tools available to you; verify the solution if \
         possible with tests; never assume a specific test framework or test script. Check the \
         README or search the codebase to determine the testing approach. When you have completed \
         a task, you MUST run the lint and typecheck commands if they were provided to you.",
    ),
    (
        "Tool usage policy",
        "When doing file search, prefer to use the Task tool in order to reduce context usage. You \
         should proactively use the Task tool with specialized agents when the task at hand matches \
         the agent's description. When WebFetch returns a message about a redirect to a different \
         host, you should immediately make a new WebFetch request with the redirect URL provided in \
         the response. You have the capability to call multiple tools in a single response. When \
         multiple independent pieces of information are requested, batch your tool calls together \
         for optimal performance. When making multiple bash tool calls, you MUST send a single \
         message with multiple tool calls to run the calls in parallel.",
    ),
    (
        "Code references",
        "When referencing specific functions or pieces of code include the pattern \
         file_path:line_number to allow the user to easily navigate to the source code location. \
         For example: clients are marked as failed in the connect_to_server function in \
         src/services/process.ts:712.",
    ),
];

/// A Claude-Code-like system prompt of about 12 KB.
pub fn system_prompt() -> String {
    let mut s = String::from(
        "You are Claude Code, an interactive CLI tool that helps users with software engineering \
         tasks. Use the instructions below and the tools available to you to assist the user.\n\n\
         IMPORTANT: Assist with defensive security tasks only. Refuse to create, modify, or improve \
         code that may be used maliciously.\n\n",
    );
    for (title, text) in SECTIONS {
        s.push_str(&format!("# {title}\n{text}\n\n"));
    }
    s.push_str(
        "Here is useful information about the environment you are running in:\n<env>\n\
         Working directory: /home/dev/src/parser\nIs directory a git repo: Yes\nPlatform: linux\n\
         OS Version: Linux 6.1.0\nToday's date: 2026-01-15\n</env>\n\n\
         # Project instructions (CLAUDE.md)\n",
    );
    let mut i = 1;
    while s.len() < 12_000 {
        s.push_str(&format!(
            "- Rule {i}: keep module {m} free of panics; errors carry the file, line and column; \
             run `cargo test -p parser-{m}` and `cargo clippy --all-targets -- -D warnings` before \
             reporting success.\n",
            m = i % 7
        ));
        i += 1;
    }
    s
}

/// (name, description, [(param, type, description, required)])
type ToolSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str, bool)],
);

const TOOLS: &[ToolSpec] = &[
    (
        "Task",
        "Launch a new agent to handle complex, multi-step tasks autonomously.",
        &[
            (
                "description",
                "string",
                "A short (3-5 word) description of the task",
                true,
            ),
            (
                "prompt",
                "string",
                "The task for the agent to perform",
                true,
            ),
            (
                "subagent_type",
                "string",
                "The type of specialized agent to use for this task",
                true,
            ),
        ],
    ),
    (
        "Bash",
        "Executes a given bash command in a persistent shell session with optional timeout.",
        &[
            ("command", "string", "The command to execute", true),
            (
                "timeout",
                "number",
                "Optional timeout in milliseconds (max 600000)",
                false,
            ),
            (
                "description",
                "string",
                "Clear, concise description of what this command does in 5-10 words",
                false,
            ),
            (
                "run_in_background",
                "boolean",
                "Set to true to run this command in the background",
                false,
            ),
        ],
    ),
    (
        "Glob",
        "Fast file pattern matching tool that works with any codebase size.",
        &[
            (
                "pattern",
                "string",
                "The glob pattern to match files against",
                true,
            ),
            (
                "path",
                "string",
                "The directory to search in. Defaults to the current working directory.",
                false,
            ),
        ],
    ),
    (
        "Grep",
        "A powerful search tool built on ripgrep. Supports full regex syntax.",
        &[
            (
                "pattern",
                "string",
                "The regular expression pattern to search for in file contents",
                true,
            ),
            (
                "path",
                "string",
                "File or directory to search in. Defaults to current working directory.",
                false,
            ),
            (
                "glob",
                "string",
                "Glob pattern to filter files (e.g. \"*.js\", \"*.{ts,tsx}\")",
                false,
            ),
            (
                "output_mode",
                "string",
                "Output mode: content, files_with_matches or count",
                false,
            ),
            ("-i", "boolean", "Case insensitive search", false),
            ("-n", "boolean", "Show line numbers in output", false),
            (
                "head_limit",
                "number",
                "Limit output to first N lines/entries",
                false,
            ),
            (
                "multiline",
                "boolean",
                "Enable multiline mode where . matches newlines",
                false,
            ),
        ],
    ),
    (
        "LS",
        "Lists files and directories in a given path.",
        &[
            (
                "path",
                "string",
                "The absolute path to the directory to list",
                true,
            ),
            ("ignore", "array", "List of glob patterns to ignore", false),
        ],
    ),
    (
        "ExitPlanMode",
        "Use this tool when you are in plan mode and have finished presenting your plan.",
        &[(
            "plan",
            "string",
            "The plan you came up with, that you want to run by the user for approval",
            true,
        )],
    ),
    (
        "Read",
        "Reads a file from the local filesystem. You can access any file directly by using this tool.",
        &[
            (
                "file_path",
                "string",
                "The absolute path to the file to read",
                true,
            ),
            (
                "offset",
                "number",
                "The line number to start reading from",
                false,
            ),
            ("limit", "number", "The number of lines to read", false),
        ],
    ),
    (
        "Edit",
        "Performs exact string replacements in files.",
        &[
            (
                "file_path",
                "string",
                "The absolute path to the file to modify",
                true,
            ),
            ("old_string", "string", "The text to replace", true),
            (
                "new_string",
                "string",
                "The text to replace it with (must be different from old_string)",
                true,
            ),
            (
                "replace_all",
                "boolean",
                "Replace all occurences of old_string (default false)",
                false,
            ),
        ],
    ),
    (
        "MultiEdit",
        "This is a tool for making multiple edits to a single file in one operation.",
        &[
            (
                "file_path",
                "string",
                "The absolute path to the file to modify",
                true,
            ),
            (
                "edits",
                "array",
                "Array of edit operations to perform sequentially on the file",
                true,
            ),
        ],
    ),
    (
        "Write",
        "Writes a file to the local filesystem.",
        &[
            (
                "file_path",
                "string",
                "The absolute path to the file to write (must be absolute, not relative)",
                true,
            ),
            (
                "content",
                "string",
                "The content to write to the file",
                true,
            ),
        ],
    ),
    (
        "NotebookEdit",
        "Completely replaces the contents of a specific cell in a Jupyter notebook.",
        &[
            (
                "notebook_path",
                "string",
                "The absolute path to the Jupyter notebook file to edit",
                true,
            ),
            ("cell_id", "string", "The ID of the cell to edit", false),
            ("new_source", "string", "The new source for the cell", true),
            (
                "cell_type",
                "string",
                "The type of the cell (code or markdown)",
                false,
            ),
            (
                "edit_mode",
                "string",
                "The type of edit to make (replace, insert, delete)",
                false,
            ),
        ],
    ),
    (
        "WebFetch",
        "Fetches content from a specified URL and processes it using an AI model.",
        &[
            ("url", "string", "The URL to fetch content from", true),
            (
                "prompt",
                "string",
                "The prompt to run on the fetched content",
                true,
            ),
        ],
    ),
    (
        "TodoWrite",
        "Use this tool to create and manage a structured task list for your current coding session.",
        &[("todos", "array", "The updated todo list", true)],
    ),
    (
        "WebSearch",
        "Allows Claude to search the web and use the results to inform responses.",
        &[
            ("query", "string", "The search query to use", true),
            (
                "allowed_domains",
                "array",
                "Only include search results from these domains",
                false,
            ),
            (
                "blocked_domains",
                "array",
                "Never include search results from these domains",
                false,
            ),
        ],
    ),
    (
        "BashOutput",
        "Retrieves output from a running or completed background bash shell.",
        &[
            (
                "bash_id",
                "string",
                "The ID of the background shell to retrieve output from",
                true,
            ),
            (
                "filter",
                "string",
                "Optional regular expression to filter the output lines",
                false,
            ),
        ],
    ),
    (
        "KillShell",
        "Kills a running background bash shell by its ID.",
        &[(
            "shell_id",
            "string",
            "The ID of the background shell to kill",
            true,
        )],
    ),
    (
        "SlashCommand",
        "Execute a slash command within the main conversation.",
        &[(
            "command",
            "string",
            "The slash command to execute with its arguments",
            true,
        )],
    ),
    (
        "mcp__github__create_issue",
        "Create a new issue in a GitHub repository.",
        &[
            ("owner", "string", "Repository owner", true),
            ("repo", "string", "Repository name", true),
            ("title", "string", "Issue title", true),
            ("body", "string", "Issue body content", false),
            ("labels", "array", "Labels to apply to this issue", false),
        ],
    ),
    (
        "mcp__github__get_pull_request",
        "Get details of a specific pull request.",
        &[
            ("owner", "string", "Repository owner", true),
            ("repo", "string", "Repository name", true),
            ("pull_number", "number", "Pull request number", true),
        ],
    ),
    (
        "mcp__github__search_code",
        "Search for code across GitHub repositories.",
        &[
            (
                "q",
                "string",
                "Search query using GitHub code search syntax",
                true,
            ),
            ("per_page", "number", "Results per page (max 100)", false),
            ("page", "number", "Page number", false),
        ],
    ),
    (
        "mcp__filesystem__read_multiple_files",
        "Read the contents of multiple files simultaneously.",
        &[("paths", "array", "The files to read", true)],
    ),
    (
        "mcp__filesystem__directory_tree",
        "Get a recursive tree view of files and directories as a JSON structure.",
        &[("path", "string", "The root of the tree", true)],
    ),
    (
        "mcp__postgres__query",
        "Run a read-only SQL query against the development database.",
        &[
            ("sql", "string", "The SQL query to run", true),
            ("params", "array", "Positional query parameters", false),
        ],
    ),
    (
        "mcp__playwright__browser_navigate",
        "Navigate the browser to a URL and wait for the page to load.",
        &[
            ("url", "string", "The URL to navigate to", true),
            (
                "wait_until",
                "string",
                "load, domcontentloaded or networkidle",
                false,
            ),
        ],
    ),
];

/// Usage notes appended to every tool description, as Claude Code's tools carry.
const NOTES: &[&str] = &[
    "This tool respects the user's permission settings; a denied call returns an error to you.",
    "Always prefer absolute paths; relative paths are resolved against the working directory.",
    "Results longer than 30000 characters are truncated before they are returned to you.",
    "Batch independent calls in one message so that they run in parallel.",
    "Never use this tool to communicate with the user; write text in your response instead.",
    "If the call fails, read the error carefully and fix the arguments before retrying.",
];

fn schema(params: &[(&str, &str, &str, bool)]) -> Value {
    let mut props = serde_json::Map::new();
    let mut required = Vec::new();
    for (name, ty, desc, req) in params {
        let mut p = json!({"type": ty, "description": desc});
        if *ty == "array" {
            p["items"] = json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string", "description": "Stable identifier of the item"},
                    "value": {"type": "string", "description": "The item's content"},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]}
                },
                "required": ["value"],
                "additionalProperties": false
            });
        }
        props.insert((*name).to_string(), p);
        if *req {
            required.push(json!(name));
        }
    }
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
        "$schema": "http://json-schema.org/draft-07/schema#"
    })
}

fn description(first: &str, i: usize) -> String {
    let mut d = format!("{first}\n\nUsage:\n");
    for k in 0..13 {
        d.push_str("- ");
        d.push_str(NOTES[(i + k) % NOTES.len()]);
        d.push('\n');
    }
    d
}

/// The 24 tools as (name, description, JSON schema).
pub fn tools() -> Vec<(String, String, Value)> {
    TOOLS
        .iter()
        .enumerate()
        .map(|(i, (name, first, params))| (name.to_string(), description(first, i), schema(params)))
        .collect()
}

/// The tool result in the history: a source file of about 16 KB.
fn file_content() -> String {
    let mut s = String::new();
    let mut i = 1;
    while s.len() < 16_000 {
        s.push_str(&format!(
            "{i:>5}\tpub fn parse_item_{i}(input: &str) -> Result<Item, ParseError> {{ let t = \
             input.trim(); if t.is_empty() {{ return Err(ParseError::empty({i})); }} Ok(Item::new(t)) }}\n"
        ));
        i += 1;
    }
    s
}

const FIRST_PROMPT: &str = "The test `parses_nested_items` fails on main. Find out why and fix it.";
const ASSISTANT_TEXT: &str = "I'll start by reading the parser module.";
const READ_PATH: &str = "/home/dev/src/parser/src/items.rs";
const ANALYSIS: &str = "The bug is in parse_item_17: it trims the input before checking the \
                        nesting depth, so a nested item loses its indentation. I'll fix it.";
const LAST_PROMPT: &str = "Go ahead, apply the fix and run the tests.";

/// W2/W3: an Anthropic Messages request the size of one Claude Code sends mid-session.
pub fn claude_code_messages(stream: bool) -> Value {
    let tools: Vec<Value> = tools()
        .into_iter()
        .map(|(name, desc, schema)| json!({"name": name, "description": desc, "input_schema": schema}))
        .collect();
    json!({
        "model": MODEL,
        "max_tokens": 32000,
        "stream": stream,
        "system": [
            {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
            {"type": "text", "text": system_prompt(), "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": FIRST_PROMPT}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": ASSISTANT_TEXT},
                {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "Read",
                 "input": {"file_path": READ_PATH}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A09q90qw90lq917835lq9",
                 "content": file_content()}
            ]},
            {"role": "assistant", "content": [{"type": "text", "text": ANALYSIS}]},
            {"role": "user", "content": [
                {"type": "text", "text": LAST_PROMPT, "cache_control": {"type": "ephemeral"}}
            ]}
        ],
        "tools": tools,
        "temperature": 1,
        "metadata": {"user_id": "user_bench_account__session_0000"}
    })
}

/// W4: the same conversation as an OpenAI Responses request (Codex-style), streaming.
pub fn codex_responses() -> Value {
    let tools: Vec<Value> = tools()
        .into_iter()
        .map(|(name, desc, schema)| {
            json!({"type": "function", "name": name, "description": desc, "parameters": schema, "strict": false})
        })
        .collect();
    let args = json!({"file_path": READ_PATH}).to_string();
    json!({
        "model": MODEL,
        "instructions": system_prompt(),
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": FIRST_PROMPT}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ASSISTANT_TEXT}]},
            {"type": "function_call", "call_id": "call_0001", "name": "Read", "arguments": args},
            {"type": "function_call_output", "call_id": "call_0001", "output": file_content()},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": ANALYSIS}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": LAST_PROMPT}]}
        ],
        "tools": tools,
        "tool_choice": "auto",
        "parallel_tool_calls": true,
        "store": false,
        "stream": true
    })
}

/// W5: the same conversation as a streaming OpenAI Chat Completions request (what an
/// OpenAI-compatible agent sends), passed through unchanged: the reference for what any proxy
/// adds to the first byte of a request this size.
pub fn claude_code_chat() -> Value {
    let tools: Vec<Value> = tools()
        .into_iter()
        .map(|(name, desc, schema)| {
            json!({"type": "function", "function": {"name": name, "description": desc, "parameters": schema}})
        })
        .collect();
    let args = json!({"file_path": READ_PATH}).to_string();
    json!({
        "model": MODEL,
        "messages": [
            {"role": "system", "content": system_prompt()},
            {"role": "user", "content": FIRST_PROMPT},
            {"role": "assistant", "content": ASSISTANT_TEXT, "tool_calls": [
                {"id": "call_0001", "type": "function", "function": {"name": "Read", "arguments": args}}
            ]},
            {"role": "tool", "tool_call_id": "call_0001", "content": file_content()},
            {"role": "assistant", "content": ANALYSIS},
            {"role": "user", "content": LAST_PROMPT}
        ],
        "tools": tools,
        "max_completion_tokens": 32000,
        "stream": true,
        "stream_options": {"include_usage": true}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_request_has_the_intended_shape() {
        let body = claude_code_messages(false);
        let size = serde_json::to_vec(&body).expect("serializes").len();
        assert!((66_000..=76_000).contains(&size), "size {size}");
        assert_eq!(body["tools"].as_array().map(Vec::len), Some(24));
        assert!(system_prompt().len() >= 12_000);
        // Deterministic.
        assert_eq!(body, claude_code_messages(false));
    }

    #[test]
    fn responses_request_is_comparable() {
        let size = serde_json::to_vec(&codex_responses())
            .expect("serializes")
            .len();
        assert!((60_000..=80_000).contains(&size), "size {size}");
    }

    #[test]
    fn chat_request_is_comparable() {
        let body = claude_code_chat();
        let size = serde_json::to_vec(&body).expect("serializes").len();
        assert!((60_000..=80_000).contains(&size), "size {size}");
        assert_eq!(body["tools"].as_array().map(Vec::len), Some(24));
        assert_eq!(body["messages"][3]["role"], "tool");
    }
}
