"""The official AWS client (boto3 / botocore) against the fake Bedrock runtime, SSO portal and STS.

Run by tests/boto3.rs: `python boto3_bedrock.py ENDPOINT ACCESS_KEY SECRET SESSION_TOKEN`, with
HOME set to an empty directory. boto3 signs every request with SigV4 for real, so each call that
succeeds also proves the fake's signature check accepts a genuine signature. Prints one JSON
document of what boto3 returned, raised and iterated; the Rust test asserts on it.
"""

import hashlib
import json
import os
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

ENDPOINT, ACCESS_KEY, SECRET, TOKEN = sys.argv[1:5]
REGION = "us-west-2"
CRI = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ARN = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc123"
THROTTLED = "us.anthropic.claude-throttled-v1:0"
# One attempt: the fake counts calls, and a 429 must surface, not be retried away.
CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})
TOOLS = {
    "tools": [
        {
            "toolSpec": {
                "name": "get_weather",
                "description": "Current weather of a city",
                "inputSchema": {
                    "json": {
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    }
                },
            }
        }
    ]
}
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
USER = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]


def client(secret=SECRET, session=None):
    if session is not None:
        return session.client("bedrock-runtime", endpoint_url=ENDPOINT, config=CONFIG)
    return boto3.client(
        "bedrock-runtime",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret,
        aws_session_token=TOKEN,
        config=CONFIG,
    )


def error(e):
    """What a raised botocore error says: its class, code, message and HTTP status."""
    return {
        "class": type(e).__name__,
        "code": e.response.get("Error", {}).get("Code"),
        "message": e.response.get("Error", {}).get("Message"),
        "status": e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
    }


def invoke_body(prompt, **extra):
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 2048,
        "messages": [{"role": "user", "content": prompt}],
    }
    body.update(extra)
    return json.dumps(body)


def chunks(response):
    """Every event of an InvokeModelWithResponseStream answer: botocore decodes each frame
    and the base64 of its `bytes`; the bytes are one Anthropic stream event JSON."""
    return [json.loads(ev["chunk"]["bytes"]) for ev in response["body"]]


def plain_calls(c, report):
    """Each operation with each kind of model id: a cross-region profile id and an ARN."""
    for name, model in (("cri", CRI), ("arn", ARN)):
        r = c.converse(modelId=model, messages=USER)
        report[f"converse_{name}"] = {
            "content": r["output"]["message"]["content"],
            "role": r["output"]["message"]["role"],
            "stopReason": r["stopReason"],
            "usage": r["usage"],
            "metrics": r["metrics"],
        }
        stream = c.converse_stream(modelId=model, messages=USER)["stream"]
        report[f"converse_stream_{name}"] = list(stream)
        r = c.invoke_model(modelId=model, body=invoke_body("Hello"))
        report[f"invoke_{name}"] = {
            "contentType": r["contentType"],
            "body": json.loads(r["body"].read()),
        }
        r = c.invoke_model_with_response_stream(modelId=model, body=invoke_body("Hello"))
        report[f"invoke_stream_{name}"] = chunks(r)


def tool_calls(c, report):
    """A Converse tool round trip, the same history without toolConfig, streamed tool calls."""
    r = c.converse(modelId=ARN, messages=USER, toolConfig=TOOLS)
    message = r["output"]["message"]
    use = next(b["toolUse"] for b in message["content"] if "toolUse" in b)
    report["converse_tool"] = {"toolUse": use, "stopReason": r["stopReason"]}
    history = USER + [
        message,
        {
            "role": "user",
            "content": [
                {
                    "toolResult": {
                        "toolUseId": use["toolUseId"],
                        "content": [{"text": "sunny, 21 C"}],
                    }
                }
            ],
        },
    ]
    r = c.converse(modelId=ARN, messages=history, toolConfig=TOOLS)
    report["converse_tool_result"] = r["output"]["message"]["content"]
    try:
        c.converse(modelId=ARN, messages=history)
        report["converse_no_tool_config"] = None
    except c.exceptions.ValidationException as e:
        report["converse_no_tool_config"] = error(e)
    report["converse_stream_tool"] = list(
        c.converse_stream(modelId=CRI, messages=USER, toolConfig=TOOLS)["stream"]
    )
    tools = [
        {
            "name": "get_weather",
            "description": "Current weather of a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    r = c.invoke_model_with_response_stream(
        modelId=ARN, body=invoke_body("Weather in Paris?", tools=tools)
    )
    report["invoke_stream_tool"] = chunks(r)


def reasoning(c, report):
    r = c.converse(modelId=CRI, messages=USER, additionalModelRequestFields=THINKING)
    report["converse_reasoning"] = r["output"]["message"]["content"]
    report["converse_stream_reasoning"] = list(
        c.converse_stream(
            modelId=ARN, messages=USER, additionalModelRequestFields=THINKING
        )["stream"]
    )
    r = c.invoke_model_with_response_stream(
        modelId=CRI,
        body=invoke_body(
            "Think first", anthropic_beta=["interleaved-thinking-2025-05-14"], **THINKING
        ),
    )
    report["invoke_stream_reasoning"] = chunks(r)


def failures(c, report):
    """Exceptions mid-stream, a 429 before the stream, a wrong secret, validation errors."""
    seen = []
    try:
        for ev in c.converse_stream(modelId=THROTTLED, messages=USER)["stream"]:
            seen.append(ev)
        report["converse_stream_exception"] = {"events": seen, "error": None}
    except EventStreamError as e:
        report["converse_stream_exception"] = {"events": seen, "error": error(e)}
    seen = []
    try:
        r = c.invoke_model_with_response_stream(modelId=THROTTLED, body=invoke_body("Hi"))
        for ev in r["body"]:
            seen.append(json.loads(ev["chunk"]["bytes"]))
        report["invoke_stream_exception"] = {"events": seen, "error": None}
    except EventStreamError as e:
        report["invoke_stream_exception"] = {"events": seen, "error": error(e)}
    try:
        c.converse(modelId=THROTTLED, messages=USER)
        report["converse_429"] = None
    except c.exceptions.ThrottlingException as e:
        report["converse_429"] = error(e)
    try:
        c.invoke_model(modelId=THROTTLED, body=invoke_body("Hi"))
        report["invoke_429"] = None
    except c.exceptions.ThrottlingException as e:
        report["invoke_429"] = error(e)
    try:
        client(secret=SECRET + "x").converse(modelId=CRI, messages=USER)
        report["wrong_secret"] = None
    except ClientError as e:
        report["wrong_secret"] = error(e)
    try:
        c.invoke_model(modelId=CRI, body=json.dumps({"max_tokens": 5, "messages": []}))
        report["invoke_no_version"] = None
    except c.exceptions.ValidationException as e:
        report["invoke_no_version"] = error(e)
    try:
        c.converse(modelId=CRI, messages=USER + [{"role": "user", "content": [{"text": "again"}]}])
        report["converse_not_alternating"] = None
    except c.exceptions.ValidationException as e:
        report["converse_not_alternating"] = error(e)


def sso_and_sts(report):
    """An SSO profile pointed at the fake portal (AWS_ENDPOINT_URL_SSO), whose short-lived
    credentials the fake Bedrock accepts; then an assume-role profile on top of it, through
    the fake STS (AWS_ENDPOINT_URL_STS)."""
    home = os.environ["HOME"]
    start_url = "https://fake-sso.example.com/start"
    os.makedirs(os.path.join(home, ".aws", "sso", "cache"), exist_ok=True)
    with open(os.path.join(home, ".aws", "config"), "w") as f:
        f.write(
            "[profile fake-sso]\n"
            f"sso_start_url = {start_url}\n"
            f"sso_region = {REGION}\n"
            "sso_account_id = 123456789012\n"
            "sso_role_name = BedrockUser\n"
            f"region = {REGION}\n\n"
            "[profile fake-role]\n"
            "role_arn = arn:aws:iam::123456789012:role/BedrockRole\n"
            "source_profile = fake-sso\n"
            f"region = {REGION}\n"
        )
    cache = os.path.join(
        home, ".aws", "sso", "cache", hashlib.sha1(start_url.encode()).hexdigest() + ".json"
    )
    with open(cache, "w") as f:
        json.dump(
            {
                "startUrl": start_url,
                "region": REGION,
                "accessToken": "fake-sso-access-token",
                "expiresAt": "2099-01-01T00:00:00Z",
            },
            f,
        )
    session = boto3.Session(profile_name="fake-sso")
    c = client(session=session)
    first = c.converse(modelId=CRI, messages=USER)["output"]["message"]["content"]
    second = c.converse(modelId=ARN, messages=USER)["output"]["message"]["content"]
    report["sso"] = {"first": first, "second": second}
    c = client(session=boto3.Session(profile_name="fake-role"))
    report["sts"] = c.converse(modelId=CRI, messages=USER)["output"]["message"]["content"]


def main():
    report = {"boto3": boto3.__version__, "botocore": botocore.__version__}
    c = client()
    plain_calls(c, report)
    tool_calls(c, report)
    reasoning(c, report)
    failures(c, report)
    sso_and_sts(report)
    print(json.dumps(report, default=repr))


if __name__ == "__main__":
    main()
