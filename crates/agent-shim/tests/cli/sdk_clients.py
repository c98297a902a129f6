"""The official Python SDKs (PyPI `anthropic`, `openai`) against agent-shim's gateway.

Run by sdk_clients.rs:

    python sdk_clients.py CASE=MODEL [CASE=MODEL ...]

with AGENT_SHIM_GATEWAY (the gateway's root URL) and AGENT_SHIM_KEY (its master key) in the
environment. Every case asks for the weather with one function tool, the upstream answers with a
call of that tool, and the case asserts on the SDK's own parsed objects. Prints `ok CASE MODEL …`
or `FAIL CASE MODEL: …` per case and exits 1 if any case failed. `--check` only imports the SDKs.
"""

import json
import os
import sys
import pycases

try:
    import anthropic
    import openai
except ImportError as e:  # the Rust side turns this into a clear failure
    print(f"missing SDK: {e}; install the pinned `anthropic` and `openai` (see .ci/run)")
    sys.exit(3)

if sys.argv[1:] == ["--check"]:
    print(f"anthropic {anthropic.__version__} openai {openai.__version__}")
    sys.exit(0)

ROOT = os.environ["AGENT_SHIM_GATEWAY"].rstrip("/")
KEY = os.environ["AGENT_SHIM_KEY"]
PROMPT = "What is the weather in Paris, in celsius?"
ARGS = {"city": "Paris", "unit": "celsius"}
NAME = "get_weather"
DESCRIPTION = "Current weather for a city"
SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def anthropic_client():
    return anthropic.Anthropic(base_url=ROOT, api_key=KEY, max_retries=0, timeout=60)


def openai_client():
    return openai.OpenAI(base_url=ROOT + "/v1", api_key=KEY, max_retries=0, timeout=60)


ANTHROPIC_TOOLS = [{"name": NAME, "description": DESCRIPTION, "input_schema": SCHEMA}]
CHAT_TOOLS = [
    {"type": "function", "function": {"name": NAME, "description": DESCRIPTION, "parameters": SCHEMA}}
]
RESPONSES_TOOLS = [{"type": "function", "name": NAME, "description": DESCRIPTION, "parameters": SCHEMA}]


def check_anthropic_message(m, model):
    check(m.type == "message" and m.role == "assistant", f"a message: {m!r}")
    check(m.model == model, f"model {m.model!r}, asked {model!r}")
    check(m.stop_reason == "tool_use", f"stop_reason {m.stop_reason!r}")
    uses = [b for b in m.content if b.type == "tool_use"]
    check(len(uses) == 1, f"one tool_use block: {m.content!r}")
    use = uses[0]
    check(m.content[-1] is use, f"the tool_use block comes last: {m.content!r}")
    check(use.name == NAME, f"tool name {use.name!r}")
    check(use.input == ARGS, f"tool input {use.input!r}")
    check(isinstance(use.id, str) and use.id, f"tool_use id {use.id!r}")
    check(m.usage.input_tokens > 0 and m.usage.output_tokens > 0, f"usage {m.usage!r}")
    return f"tool_use {use.name} {json.dumps(use.input, sort_keys=True)}"


def messages(model):
    m = anthropic_client().messages.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}], tools=ANTHROPIC_TOOLS
    )
    return check_anthropic_message(m, model)


def messages_stream(model):
    with anthropic_client().messages.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}], tools=ANTHROPIC_TOOLS
    ) as stream:
        events = [e.type for e in stream]
        final = stream.get_final_message()
    check(events[0] == "message_start", f"starts with message_start: {events}")
    check(events[-1] == "message_stop", f"ends with message_stop: {events}")
    check("input_json" in events, f"tool arguments streamed as input_json deltas: {events}")
    return check_anthropic_message(final, model) + f" ({len(events)} events)"


def check_chat_call(call):
    check(call.type == "function", f"call type {call.type!r}")
    check(call.function.name == NAME, f"function name {call.function.name!r}")
    check(isinstance(call.id, str) and call.id, f"call id {call.id!r}")
    args = json.loads(call.function.arguments)
    check(args == ARGS, f"arguments {args!r}")
    return f"tool_calls {call.function.name} {json.dumps(args, sort_keys=True)}"


def chat(model):
    c = openai_client().chat.completions.create(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}], tools=CHAT_TOOLS
    )
    check(c.object == "chat.completion", f"object {c.object!r}")
    check(c.model == model, f"model {c.model!r}, asked {model!r}")
    check(len(c.choices) == 1, f"one choice: {c.choices!r}")
    choice = c.choices[0]
    check(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
    check(choice.message.role == "assistant", f"role {choice.message.role!r}")
    calls = choice.message.tool_calls or []
    check(len(calls) == 1, f"one tool call: {calls!r}")
    check(c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0, f"usage {c.usage!r}")
    return check_chat_call(calls[0])


def chat_stream(model):
    stream = openai_client().chat.completions.create(
        model=model,
        max_tokens=256,
        messages=[{"role": "user", "content": PROMPT}],
        tools=CHAT_TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    check(chunks, "some chunks")
    check(all(ch.object == "chat.completion.chunk" for ch in chunks), "every chunk is a chat.completion.chunk")
    check(len({ch.id for ch in chunks}) == 1, f"one id for the stream: {[ch.id for ch in chunks]}")
    calls = {}
    fragments = 0
    finish = None
    for ch in chunks:
        for choice in ch.choices:
            for d in choice.delta.tool_calls or []:
                fragments += 1
                call = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                if d.id:
                    call["id"] = d.id
                if d.function and d.function.name:
                    call["name"] += d.function.name
                if d.function and d.function.arguments:
                    call["arguments"] += d.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    check(finish == "tool_calls", f"finish_reason {finish!r}")
    check(list(calls) == [0], f"one tool call at index 0: {calls!r}")
    call = calls[0]
    check(call["id"], f"the call has an id: {call!r}")
    check(call["name"] == NAME, f"name {call['name']!r}")
    check(json.loads(call["arguments"]) == ARGS, f"arguments {call['arguments']!r}")
    check(fragments > 1, f"the arguments came in fragments ({fragments})")
    usage = [ch.usage for ch in chunks if ch.usage is not None]
    check(len(usage) == 1 and usage[0].prompt_tokens > 0, f"one usage chunk: {usage!r}")
    check(chunks[-1].usage is not None and chunks[-1].choices == [], "the usage chunk comes last, without choices")
    return f"tool_calls {call['name']} {json.dumps(json.loads(call['arguments']), sort_keys=True)} ({len(chunks)} chunks)"


def chat_stream_helper(model):
    with openai_client().chat.completions.stream(
        model=model, max_tokens=256, messages=[{"role": "user", "content": PROMPT}], tools=CHAT_TOOLS
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_completion()
    check("tool_calls.function.arguments.done" in kinds, f"the helper saw the arguments complete: {kinds}")
    choice = final.choices[0]
    check(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason!r}")
    calls = choice.message.tool_calls or []
    check(len(calls) == 1, f"one tool call: {calls!r}")
    return check_chat_call(calls[0])


def check_response(r, model):
    check(r.object == "response", f"object {r.object!r}")
    check(r.status == "completed", f"status {r.status!r}")
    check(r.model == model, f"model {r.model!r}, asked {model!r}")
    calls = [o for o in r.output if o.type == "function_call"]
    check(len(calls) == 1, f"one function_call item: {r.output!r}")
    call = calls[0]
    check(call.name == NAME, f"name {call.name!r}")
    check(isinstance(call.call_id, str) and call.call_id, f"call_id {call.call_id!r}")
    args = json.loads(call.arguments)
    check(args == ARGS, f"arguments {args!r}")
    check(r.usage is not None and r.usage.input_tokens > 0, f"usage {r.usage!r}")
    return call, f"function_call {call.name} {json.dumps(args, sort_keys=True)}"


def responses(model):
    r = openai_client().responses.create(model=model, input=PROMPT, tools=RESPONSES_TOOLS, max_output_tokens=256)
    return check_response(r, model)[1]


def responses_stream(model):
    stream = openai_client().responses.create(
        model=model, input=PROMPT, tools=RESPONSES_TOOLS, max_output_tokens=256, stream=True
    )
    events = list(stream)
    kinds = [e.type for e in events]
    check(kinds[0] == "response.created", f"starts with response.created: {kinds}")
    check(kinds[-1] == "response.completed", f"ends with response.completed: {kinds}")
    seq = [e.sequence_number for e in events]
    check(seq == sorted(seq) and len(set(seq)) == len(seq), f"increasing sequence numbers: {seq}")
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    check(len(done) == 1, f"one arguments.done event: {kinds}")
    check(deltas == done[0].arguments, f"the deltas {deltas!r} add up to {done[0].arguments!r}")
    added = [e.item for e in events if e.type == "response.output_item.added" and e.item.type == "function_call"]
    check(len(added) == 1 and added[0].name == NAME, f"the function_call item was announced: {kinds}")
    call, line = check_response(events[-1].response, model)
    check(call.call_id == added[0].call_id, "the same call_id when announced and completed")
    return line + f" ({len(events)} events)"


def responses_stream_helper(model):
    with openai_client().responses.stream(
        model=model, input=PROMPT, tools=RESPONSES_TOOLS, max_output_tokens=256
    ) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_response()
    check(kinds[-1] == "response.completed", f"ends with response.completed: {kinds}")
    return check_response(final, model)[1]


CASES = {
    "messages": messages,
    "messages-stream": messages_stream,
    "chat": chat,
    "chat-stream": chat_stream,
    "chat-stream-helper": chat_stream_helper,
    "responses": responses,
    "responses-stream": responses_stream,
    "responses-stream-helper": responses_stream_helper,
}


if __name__ == "__main__":
    sys.exit(pycases.run(CASES, sys.argv[1:], "sdk_clients.py"))
