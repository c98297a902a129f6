"""The official Python SDKs (PyPI `anthropic`, `openai`) against a `claude-code` model of agent-shim's
gateway, whose upstream is the real `claude` CLI. Run by claude_code_sdk.rs:

    python claude_code_sdk.py CASE=MODEL [CASE=MODEL ...]

with AGENT_SHIM_GATEWAY (the gateway's root URL), AGENT_SHIM_KEY (its master key), and EXPECT_TEXT,
EXPECT_INPUT_TOKENS, EXPECT_OUTPUT_TOKENS (what the fake upstream behind the CLI answers) in the
environment. Each case asserts on the SDKs' own parsed objects or exceptions and prints
`ok CASE MODEL …` or `FAIL CASE MODEL: …`; the script exits 1 if any case failed.
"""

import os
import sys
import pycases

import anthropic
import openai

ROOT = os.environ["AGENT_SHIM_GATEWAY"].rstrip("/")
KEY = os.environ["AGENT_SHIM_KEY"]
TEXT = os.environ.get("EXPECT_TEXT", "")
USAGE = (int(os.environ.get("EXPECT_INPUT_TOKENS", "0")), int(os.environ.get("EXPECT_OUTPUT_TOKENS", "0")))
PROMPT = "Say hello."
MESSAGES = [{"role": "user", "content": PROMPT}]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def anthropic_client():
    return anthropic.Anthropic(base_url=ROOT, api_key=KEY, max_retries=0, timeout=90)


def openai_client():
    return openai.OpenAI(base_url=ROOT + "/v1", api_key=KEY, max_retries=0, timeout=90)


def check_answer(text, usage, deltas=None):
    """The fake's text and its token counts, exactly; a stream in more than one delta."""
    check(text == TEXT, f"text {text!r}, expected {TEXT!r}")
    check(USAGE[0] > 0 and USAGE[1] > 0, f"the fake reports tokens: {USAGE}")
    check(usage == USAGE, f"usage (input, output) {usage}, the fake reported {USAGE}")
    if deltas is not None:
        check(deltas > 1, f"the text was streamed in {deltas} delta(s)")
    return f"{text!r} usage {usage[0]}/{usage[1]}" + ("" if deltas is None else f" in {deltas} deltas")


def chat(model):
    c = openai_client().chat.completions.create(model=model, max_tokens=256, messages=MESSAGES)
    check(c.object == "chat.completion" and len(c.choices) == 1, f"one choice: {c!r}")
    choice = c.choices[0]
    check(choice.finish_reason == "stop", f"finish_reason {choice.finish_reason!r}")
    check(choice.message.role == "assistant", f"role {choice.message.role!r}")
    return check_answer(choice.message.content, (c.usage.prompt_tokens, c.usage.completion_tokens))


def chat_stream(model):
    stream = openai_client().chat.completions.create(
        model=model, max_tokens=256, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    check(chunks and all(ch.object == "chat.completion.chunk" for ch in chunks), f"chunks: {chunks!r}")
    parts = [d.delta.content for ch in chunks for d in ch.choices if d.delta.content]
    finish = [d.finish_reason for ch in chunks for d in ch.choices if d.finish_reason]
    check(finish == ["stop"], f"finish reasons {finish!r}")
    usage = [ch.usage for ch in chunks if ch.usage is not None]
    check(len(usage) == 1 and chunks[-1].usage is usage[0], f"one usage chunk, the last: {usage!r}")
    check(chunks[-1].choices == [], "the usage chunk has no choices")
    u = usage[0]
    return check_answer("".join(parts), (u.prompt_tokens, u.completion_tokens), len(parts))


def messages(model):
    m = anthropic_client().messages.create(model=model, max_tokens=256, messages=MESSAGES)
    check(m.type == "message" and m.role == "assistant", f"a message: {m!r}")
    check(m.stop_reason == "end_turn", f"stop_reason {m.stop_reason!r}")
    text = "".join(b.text for b in m.content if b.type == "text")
    return check_answer(text, (m.usage.input_tokens, m.usage.output_tokens))


def messages_stream(model):
    with anthropic_client().messages.stream(model=model, max_tokens=256, messages=MESSAGES) as stream:
        events = list(stream)
        final = stream.get_final_message()
    kinds = [e.type for e in events]
    check(kinds[0] == "message_start" and kinds[-1] == "message_stop", f"events {kinds}")
    parts = [e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta"]
    check(final.stop_reason == "end_turn", f"stop_reason {final.stop_reason!r}")
    text = "".join(b.text for b in final.content if b.type == "text")
    check(text == "".join(parts), f"the final message {text!r} is what was streamed {parts!r}")
    return check_answer(text, (final.usage.input_tokens, final.usage.output_tokens), len(parts))


def responses(model):
    r = openai_client().responses.create(model=model, input=PROMPT, max_output_tokens=256)
    check(r.object == "response" and r.status == "completed", f"a completed response: {r!r}")
    return check_answer(r.output_text, (r.usage.input_tokens, r.usage.output_tokens))


def responses_stream(model):
    events = list(openai_client().responses.create(model=model, input=PROMPT, max_output_tokens=256, stream=True))
    kinds = [e.type for e in events]
    check(kinds[0] == "response.created" and kinds[-1] == "response.completed", f"events {kinds}")
    parts = [e.delta for e in events if e.type == "response.output_text.delta"]
    r = events[-1].response
    check(r.status == "completed" and r.output_text == "".join(parts), f"the completed response {r!r}")
    return check_answer(r.output_text, (r.usage.input_tokens, r.usage.output_tokens), len(parts))


CALLS = {
    "chat": chat,
    "chat-stream": chat_stream,
    "messages": messages,
    "messages-stream": messages_stream,
    "responses": responses,
    "responses-stream": responses_stream,
}


def models(model):
    """Both SDKs' model lists (OpenAI's shape, and Anthropic's for an `anthropic-version` client) name it."""
    ids = [m.id for m in openai_client().models.list()]
    check(model in ids, f"openai models.list() has no {model!r}: {ids}")
    listed = list(anthropic_client().models.list())
    check(all(m.type == "model" for m in listed), f"Anthropic-shaped entries: {listed!r}")
    check(model in [m.id for m in listed], f"anthropic models.list() has no {model!r}: {listed!r}")
    return f"listed by both SDKs among {len(ids)} models"


def refused(model, calls, status, cls, words):
    """Every call in `calls` raises the SDK's exception class for `status`, its message holding `words`."""
    seen = []
    for name in calls:
        try:
            CALLS[name](model)
        except (anthropic.APIStatusError, openai.APIStatusError) as e:
            check(e.status_code == status, f"{name}: status {e.status_code}, expected {status}: {e}")
            check(type(e).__name__ == cls, f"{name}: {type(e).__name__}, expected {cls}: {e}")
            if isinstance(e, anthropic.APIStatusError):
                message = e.api_message
            else:
                message = e.body.get("message") if isinstance(e.body, dict) else None
            check(isinstance(message, str), f"{name}: no error message in {e.body!r}")
            missing = [w for w in words if w not in message]
            check(not missing, f"{name}: the message lacks {missing}: {message!r}")
            seen.append(name)
        else:
            raise AssertionError(f"{name}: no error raised")
    return f"{status} {cls} from {', '.join(seen)}: {message}"


def missing_cli(model):
    return refused(
        model, list(CALLS), 502, "InternalServerError", ["claude_path", "npm install -g @anthropic-ai/claude-code"]
    )


def logged_out(model):
    return refused(
        model, ["chat-stream", "messages", "responses"], 403, "PermissionDeniedError", ["run `claude`", "`/login`"]
    )


CASES = dict(CALLS, **{"models": models, "missing-cli": missing_cli, "logged-out": logged_out})


if __name__ == "__main__":
    sys.exit(pycases.run(CASES, sys.argv[1:], "claude_code_sdk.py"))
