#!/usr/bin/env python3
"""Prunes LiteLLM's price table to what agent-shim prices with; writes litellm-prices.json.

    python3 crates/ledger/prices/prune.py SOURCE.json "litellm 1.106.2" 2026-10-21 > crates/ledger/prices/litellm-prices.json

The same rule as `agent-shim prices update` (crates/ledger/src/prices/table.rs, `prune`):
keep entries whose `mode` is `chat` or `responses` and that carry both `input_cost_per_token` and
`output_cost_per_token`; drop entries priced by `tiered_pricing` or `off_peak_pricing` (rules the
gateway does not implement: such a model stays unpriced rather than mispriced); keep only the
fields below and the standard `*_above_<N>[k]_tokens` tiers of them. Nothing else is changed:
numbers are written as Python's repr, as LiteLLM's file has them.
"""
import hashlib
import json
import re
import sys

FIELDS = (
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "cache_creation_input_token_cost_above_1hr",
    "output_cost_per_reasoning_token",
)
TIER = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost|cache_creation_input_token_cost_above_1hr)"
    r"_above_\d+k?_tokens$"
)


def is_price(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def prune(table):
    out = {}
    for key, e in table.items():
        if not isinstance(e, dict) or e.get("mode") not in ("chat", "responses"):
            continue
        if "tiered_pricing" in e or "off_peak_pricing" in e:
            continue
        if not (is_price(e.get("input_cost_per_token")) and is_price(e.get("output_cost_per_token"))):
            continue
        kept = {}
        if isinstance(e.get("litellm_provider"), str):
            kept["litellm_provider"] = e["litellm_provider"]
        for f, v in e.items():
            if (f in FIELDS or TIER.match(f)) and is_price(v):
                kept[f] = v
        out[key] = kept
    return out


def main():
    src, package, date = sys.argv[1], sys.argv[2], sys.argv[3]
    raw = open(src, "rb").read()
    models = prune(json.loads(raw))
    head = {
        "version": package.replace(" ", "-") + "@" + date,
        "source": f"{package}: litellm/model_prices_and_context_window_backup.json (built {date})",
        "sha256": hashlib.sha256(raw).hexdigest(),
        "license": "MIT (https://github.com/BerriAI/litellm/blob/main/LICENSE)",
    }
    # One model per line, sorted: a reviewable diff when the table is updated.
    lines = [json.dumps(k) + ": " + json.dumps(v, sort_keys=True) for k, v in sorted(models.items())]
    sys.stdout.write("{\n")
    for k, v in head.items():
        sys.stdout.write(f"  {json.dumps(k)}: {json.dumps(v)},\n")
    sys.stdout.write('  "models": {\n    ' + ",\n    ".join(lines) + "\n  }\n}\n")


if __name__ == "__main__":
    main()
