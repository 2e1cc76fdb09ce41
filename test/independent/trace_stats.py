#!/usr/bin/env python3
"""Independent reader for pertoken's trace formats (Python standard library only).

Written from the format descriptions (shared/traces/README.md, FORMATS.md), not from the
TypeScript readers, to cross-check them. Usage:

    python3 trace_stats.py FILE FORMAT

prints one JSON object:

    {"format", "count", "prompt_tokens", "output_tokens",
     "first_arrival_s", "last_arrival_s"}

Arrival conventions (the documented contract of the readers):
  * wall-clock formats (azure datetimes, burstgpt seconds, agent-calls epochs, tracelab ISO
    times) are reported relative to the earliest request, so first_arrival_s is 0;
  * relative formats (generic, vidur, splitwise, mooncake, bailian) are reported as written,
    in seconds (mooncake's millisecond timestamps / 1000, before any bucket spreading);
  * vidur lengths-only files (no arrived_at) have every arrival at 0;
  * agent-calls: a call without request_ts takes the previous call's next_tool_done_ts, else
    server_created_ts minus the median (server_created_ts - request_ts) over the file's calls
    that have both (but not after response_ts), else response_ts;
  * tracelab: a round arrives at its earliest timing event;
  * weka-session: main requests at t, sub-agent requests at (sub-agent t + request t);
  * weka-requests has no global clock (sessions are placed at random), so arrivals are null.
Gzip input is recognised by its magic bytes.
"""

import csv
import gzip
import io
import json
import math
import statistics
import sys
from datetime import datetime, timezone


def open_text(path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8-sig", newline="")
    return open(path, "r", encoding="utf-8-sig", newline="")


def csv_rows(path):
    with open_text(path) as fh:
        reader = csv.DictReader(fh)
        reader.fieldnames = [n.strip() for n in reader.fieldnames]
        for row in reader:
            if all((v or "").strip() == "" for v in row.values()):
                continue
            yield row


def jsonl_rows(path):
    with open_text(path) as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def blank(v):
    return v is None or str(v).strip() == ""


def count(v):
    x = float(v)
    if x < 0 or x != math.floor(x):
        raise ValueError(f"not a token count: {v!r}")
    return int(x)


def iso_seconds(text):
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def result(fmt, reqs, relative):
    """reqs: list of (arrival or None, prompt, output)."""
    arrivals = [a for a, _, _ in reqs if a is not None]
    first = last = None
    if arrivals and len(arrivals) == len(reqs):
        lo, hi = min(arrivals), max(arrivals)
        first, last = (0.0, hi - lo) if relative else (lo, hi)
    return {
        "format": fmt,
        "count": len(reqs),
        "prompt_tokens": sum(p for _, p, _ in reqs),
        "output_tokens": sum(o for _, _, o in reqs),
        "first_arrival_s": first,
        "last_arrival_s": last,
    }


def read_generic(path):
    with open_text(path) as fh:
        head = ""
        for line in fh:
            if line.strip():
                head = line
                break
    rows = jsonl_rows(path) if head.lstrip().startswith("{") else csv_rows(path)
    out = []
    for r in rows:
        if not blank(r.get("arrival_s")):
            t = float(r["arrival_s"])
        else:
            t = float(r["timestamp_ms"]) / 1000.0
        out.append((t, count(r["prompt_tokens"]), count(r["output_tokens"])))
    return result("generic", out, relative=False)


def read_azure(path):
    out = [
        (iso_seconds(r["TIMESTAMP"]), count(r["ContextTokens"]), count(r["GeneratedTokens"]))
        for r in csv_rows(path)
    ]
    return result("azure", out, relative=True)


def read_burstgpt(path):
    out = [
        (float(r["Timestamp"]), count(r["Request tokens"]), count(r["Response tokens"]))
        for r in csv_rows(path)
    ]
    return result("burstgpt", out, relative=True)


def read_vidur(path):
    out = []
    for r in csv_rows(path):
        t = float(r["arrived_at"]) if "arrived_at" in r else 0.0
        out.append((t, count(r["num_prefill_tokens"]), count(r["num_decode_tokens"])))
    return result("vidur", out, relative=False)


def read_splitwise(path):
    out = [
        (float(r["arrival_timestamp"]), count(r["prompt_size"]), count(r["token_size"]))
        for r in csv_rows(path)
    ]
    return result("splitwise", out, relative=False)


def read_mooncake(path):
    out = [
        (float(r["timestamp"]) / 1000.0, count(r["input_length"]), count(r["output_length"]))
        for r in jsonl_rows(path)
    ]
    return result("mooncake", out, relative=False)


def read_bailian(path):
    out = [
        (float(r["timestamp"]), count(r["input_length"]), count(r["output_length"]))
        for r in jsonl_rows(path)
    ]
    return result("bailian", out, relative=False)


def read_weka_requests(path):
    out = [(None, count(r["in_tokens"]), count(r["out_tokens"])) for r in csv_rows(path)]
    return result("weka-requests", out, relative=True)


def read_weka_session(path):
    with open_text(path) as fh:
        doc = json.load(fh)
    out = []

    def walk(requests, offset):
        for r in requests:
            if r.get("type") == "subagent":
                walk(r["requests"], offset + float(r["t"]))
            else:
                out.append((offset + float(r["t"]), count(r["in"]), count(r["out"])))

    walk(doc["requests"], 0.0)
    return result("weka-session", out, relative=True)


def read_agent_calls(path):
    rows = list(csv_rows(path))
    lags = [
        float(r["server_created_ts"]) - float(r["request_ts"])
        for r in rows
        if not blank(r.get("request_ts")) and not blank(r.get("server_created_ts"))
    ]
    lag = statistics.median(lags) if lags else 0.0
    sessions = {}
    for r in rows:
        sessions.setdefault((r["run"], r["instance_id"]), []).append(r)
    out = []
    for calls in sessions.values():
        calls.sort(key=lambda r: int(r["call_idx"]))
        prev = None
        for r in calls:
            if not blank(r.get("request_ts")):
                t = float(r["request_ts"])
            elif prev is not None and not blank(prev.get("next_tool_done_ts")):
                t = float(prev["next_tool_done_ts"])
            elif not blank(r.get("server_created_ts")):
                t = float(r["server_created_ts"]) - lag
                if not blank(r.get("response_ts")):
                    t = min(t, float(r["response_ts"]))
            else:
                t = float(r["response_ts"])
            out.append((t, count(r["prompt_tokens"]), count(r["completion_tokens"])))
            prev = r
    return result("agent-calls", out, relative=True)


def read_tracelab(path):
    out = []
    for r in jsonl_rows(path):
        t = min(iso_seconds(e["timestamp"]) for e in r["timing_events"])
        out.append((t, count(r["input_tokens_total"]), count(r["output_tokens"])))
    return result("tracelab", out, relative=True)


READERS = {
    "generic": read_generic,
    "azure": read_azure,
    "burstgpt": read_burstgpt,
    "vidur": read_vidur,
    "splitwise": read_splitwise,
    "mooncake": read_mooncake,
    "bailian": read_bailian,
    "weka-requests": read_weka_requests,
    "weka-session": read_weka_session,
    "agent-calls": read_agent_calls,
    "tracelab": read_tracelab,
}


def main(argv):
    if len(argv) != 3 or argv[2] not in READERS:
        sys.stderr.write(f"usage: trace_stats.py FILE FORMAT  (FORMAT one of {', '.join(READERS)})\n")
        return 2
    print(json.dumps(READERS[argv[2]](argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
