"""What the official Python SDKs (PyPI `anthropic`, `openai`) do with agent-shim's answer when its
upstream misbehaves. Run by sdk_faults.rs:

    python sdk_faults.py CASES.json

with AGENT_SHIM_GATEWAY (the gateway's root URL) and AGENT_SHIM_KEY (its master key) in the
environment. CASES.json is a list of {"id", "client" (anthropic | chat | responses), "model",
"stream", "expect"}; `expect` is one of
  {"kind": "answer", "text": T}: the SDK returns the complete answer T;
  {"kind": "error", "status": S, "words": [...], "retry_after": R}: the SDK raises its exception
      class for status S before any answer, its message holding the words, `retry-after` R passed on;
  {"kind": "stream_error", "words": [...]}: the stream began, and the SDK raises on the
      protocol's error event (Anthropic: APIStatusError; Chat: APIError) — or, for Responses, the
      stream ends with `response.failed` and the stream helper refuses a final response.
Never a silently truncated or empty success. Prints `ok ID …` or `FAIL ID: …` per case (they run
in parallel) and exits 1 if any failed.
"""

import json
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import anthropic
import openai

ROOT = os.environ["AGENT_SHIM_GATEWAY"].rstrip("/")
KEY = os.environ["AGENT_SHIM_KEY"]
PROMPT = "hi"

# The exception class each SDK raises for an HTTP status (anthropic/_error_classes.py,
# openai/_client.py `_make_status_error`).
ANTHROPIC_CLASSES = {
    400: "BadRequestError",
    429: "RateLimitError",
    503: "ServiceUnavailableError",
    504: "GatewayTimeoutError",
    529: "OverloadedError",
}
OPENAI_CLASSES = {400: "BadRequestError", 429: "RateLimitError"}


def expected_class(client, status):
    if client == "anthropic":
        return ANTHROPIC_CLASSES.get(status, "InternalServerError" if status >= 500 else "APIStatusError")
    return OPENAI_CLASSES.get(status, "InternalServerError" if status >= 500 else "APIStatusError")


class Failed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failed(what)


def anthropic_call(model, stream, seen):
    c = anthropic.Anthropic(base_url=ROOT, api_key=KEY, max_retries=0, timeout=30)
    messages = [{"role": "user", "content": PROMPT}]
    if not stream:
        m = c.messages.create(model=model, max_tokens=100, messages=messages)
        check(m.stop_reason == "end_turn", f"stop_reason {m.stop_reason!r}")
        return "".join(b.text for b in m.content if b.type == "text")
    with c.messages.stream(model=model, max_tokens=100, messages=messages) as s:
        for e in s:
            seen.append(e.type)
        m = s.get_final_message()
    check(seen[-1] == "message_stop", f"ends with message_stop: {seen}")
    return "".join(b.text for b in m.content if b.type == "text")


def openai_client():
    return openai.OpenAI(base_url=ROOT + "/v1", api_key=KEY, max_retries=0, timeout=30)


def chat_call(model, stream, seen):
    messages = [{"role": "user", "content": PROMPT}]
    if not stream:
        r = openai_client().chat.completions.create(model=model, messages=messages)
        check(r.choices[0].finish_reason == "stop", f"finish_reason {r.choices[0].finish_reason!r}")
        return r.choices[0].message.content
    text = ""
    finish = None
    for ch in openai_client().chat.completions.create(model=model, messages=messages, stream=True):
        seen.append("chunk")
        for choice in ch.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    check(finish == "stop", f"finish_reason {finish!r}")
    return text


def responses_call(model, stream, seen):
    if not stream:
        r = openai_client().responses.create(model=model, input=PROMPT)
        check(r.status == "completed", f"status {r.status!r}")
        return r.output_text
    with openai_client().responses.stream(model=model, input=PROMPT) as s:
        for e in s:
            seen.append(e.type)
            if e.type == "response.failed":
                seen.append(("failed", e.response.error.message if e.response.error else ""))
        final = s.get_final_response()
    return final.output_text


CALLS = {"anthropic": anthropic_call, "chat": chat_call, "responses": responses_call}


def haystack(e):
    body = getattr(e, "body", None)
    return f"{e} {json.dumps(body, ensure_ascii=False, default=str)}"


def run(case):
    client, model, stream, expect = case["client"], case["model"], case["stream"], case["expect"]
    seen = []
    try:
        text = CALLS[client](model, stream, seen)
    except Failed:
        raise
    except Exception as e:  # what the SDK raised, judged below
        return judge_exception(client, stream, expect, e, seen)
    check(expect["kind"] == "answer", f"the SDK returned a success ({text!r}) where {expect} was due")
    check(text == expect["text"], f"text {text!r}, want {expect['text']!r}")
    return f"answer {len(text)} chars"


def judge_exception(client, stream, expect, e, seen):
    name = type(e).__name__
    kind = expect["kind"]
    if kind == "error":
        want = expected_class(client, expect["status"])
        check(name == want, f"raised {name} ({e}), want {want}")
        check(e.status_code == expect["status"], f"status {e.status_code}")
        words = expect["words"]
        check(all(w in haystack(e) for w in words), f"message lacks {words}: {haystack(e)}")
        ra = e.response.headers.get("retry-after")
        check(ra == expect.get("retry_after"), f"retry-after {ra!r}")
        check(not seen, f"events before the error: {seen}")
        return f"{name} {e.status_code}"
    check(kind == "stream_error", f"raised {name}: {e} where {expect} was due")
    check(stream, "a stream error on a non-streaming request")
    words = expect["words"]
    if client == "anthropic":
        check(name == "APIStatusError", f"raised {name} ({e}), want APIStatusError from the error event")
        check("message_start" in seen, f"the stream began: {seen}")
        check("message_stop" not in seen, f"no message_stop: {seen}")
        msg = haystack(e)
    elif client == "chat":
        check(name == "APIError", f"raised {name} ({e}), want APIError from the error chunk")
        check(seen, "the stream began")
        msg = haystack(e)
    else:
        check(isinstance(e, RuntimeError) and "response.completed" in str(e), f"raised {name}: {e}")
        failed = [s for s in seen if isinstance(s, tuple)]
        check(len(failed) == 1, f"one response.failed event: {seen}")
        check("response.created" in seen, f"the stream began: {seen}")
        check("response.completed" not in seen, f"no response.completed: {seen}")
        msg = failed[0][1]
    check(all(w in msg for w in words), f"error event message lacks {words}: {msg}")
    return f"{name} after {len(seen)} events"


def attempt(case):
    started = time.monotonic()
    try:
        return f"ok {case['id']} {run(case)} ({time.monotonic() - started:.2f} s)"
    except Exception as e:
        detail = "".join(traceback.format_exception_only(type(e), e)).strip()
        return f"FAIL {case['id']}: {detail} ({time.monotonic() - started:.2f} s)"


def main(argv):
    if len(argv) != 1:
        print("usage: sdk_faults.py CASES.json")
        return 2
    with open(argv[0]) as f:
        cases = json.load(f)
    with ThreadPoolExecutor(max_workers=32) as pool:
        lines = list(pool.map(attempt, cases))
    for line in lines:
        print(line)
    return 1 if any(line.startswith("FAIL") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
