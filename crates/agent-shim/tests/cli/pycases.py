"""The case runner the SDK test scripts share: `CASE=MODEL` arguments, one `ok CASE MODEL …` or
`FAIL CASE MODEL: …` line per case (the traceback on stderr), exit code 1 if any case failed."""

import traceback


def run(cases, argv, name):
    """Runs `cases[case](model)` for each `CASE=MODEL` in `argv`; returns the exit code."""
    if not argv:
        print(f"usage: {name} CASE=MODEL [CASE=MODEL ...]")
        return 2
    failed = 0
    for arg in argv:
        case, _, model = arg.partition("=")
        try:
            print(f"ok {case} {model} {cases[case](model)}", flush=True)
        except Exception as e:  # one line per case; the traceback goes to stderr
            failed += 1
            print(f"FAIL {case} {model}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
    return 1 if failed else 0
