#!/usr/bin/env python3
"""Independent oracle for the streaming cases of the corpus (streams/*.json).

A stream case is a batch case's input and spec (plus "lateness") and a list of
steps: push a batch, advance the watermark, take the late rows, snapshot and
restore, finish. For each step this script recomputes what the stream must
return by following docs/semantics.md ("Streaming") literally, on top of the
batch oracle's brute force (oracle.py):

- the watermark W, the late rows (tumbling/hopping: every window of the row
  closed under the W of the pushes before; sessions and rolling: time < W)
  and the rows counted are tracked row by row;
- after each step the batch brute force runs over every row counted so far,
  and the step's emission is the windows (rolling: the rows) that are closed
  now and were not emitted before, in `window_agg`'s order (rolling: by time,
  ties in arrival order).

Usage:
    stream_oracle.py --check     verify every stream case (default); exit 1 on any mismatch
    stream_oracle.py --write     (re)compute every step's "expected"
    stream_oracle.py --case NAME ...
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import oracle  # noqa: E402
from oracle import (  # noqa: E402
    ERROR_KINDS, OracleError, T, brute, compare_cols, decode_expected, encode_value, fdiv,
    parse_duration, parse_rolling_spec, parse_window_spec,
)

CASE_DIR = HERE / "streams"
STREAM_KEYS = ("lateness", "max_state_bytes")
ACTIONS = ("push", "advance", "finish", "take_late", "restore")


class Stream:
    """The stream semantics, row by row (no incremental state at all)."""

    def __init__(self, case):
        self.op = case["op"]
        spec = dict(case["spec"])
        self.lateness_raw = spec.pop("lateness", None)
        spec.pop("max_state_bytes", None)
        self.batch_op = {"window_stream": "window_agg", "rolling_stream": "rolling"}[self.op]
        self.batch_spec = spec
        self.p = parse_window_spec(spec) if self.op == "window_stream" else parse_rolling_spec(spec)
        self.schema = case["input"]["schema"]
        self.types = {f["name"]: T(f["type"]) for f in self.schema}
        self.tname = self.p["time"]
        self.tt = self.types[self.tname]
        self.lateness = 0 if self.lateness_raw is None else self._ticks("lateness", self.lateness_raw)
        if self.lateness < 0:
            raise OracleError("invalid_spec", "lateness must not be negative")
        self.case = case
        self.watermark = None
        self.counted = []  # raw JSON rows, arrival order (null times included: the batch oracle drops them)
        self.late = []
        self.emitted = set()
        self.finished = False
        self.stats = {"rows_in": 0, "rows_late": 0, "null_times_dropped": 0}

    def _ticks(self, key, raw):
        d = parse_duration(key, raw)
        return oracle.duration_ticks(d, self.tt, raw)

    def _batch_rows(self, index):
        b = self.case["input"]["batches"][index]
        cols = b["columns"]
        n = len(next(iter(cols.values()))) if cols else 0
        o, ln = b.get("slice", [0, n])
        return [{f["name"]: cols[f["name"]][i] for f in self.schema} for i in range(o, o + ln)]

    def _time(self, raw_row):
        v = raw_row[self.tname]
        return None if v is None else oracle.decode_value(self.tt, v)

    # Which windows a time falls in (tumbling/hopping), as (start, end).
    def _windows_of(self, t):
        p = self.p
        every = oracle.duration_ticks(p["every"], self.tt, p["raw"]["every"])
        period = oracle.duration_ticks(p["period"], self.tt, p["raw"]["period"] or p["raw"]["every"])
        offset = oracle.duration_ticks(p["offset"], self.tt, p["raw"]["offset"]) if p["offset"] is not None else 0
        out = []
        for k in range(fdiv(t - offset - period, every) - 1, fdiv(t - offset, every) + 2):
            ws = offset + k * every
            we = ws + period
            if (ws <= t < we) if p["closed"] == "left" else (ws < t <= we):
                out.append((ws, we))
        return out

    def _closed(self, end, w):
        """Is a window ending at `end` (rolling: a row at time `end`) closed under watermark w?"""
        if w is None:
            return False
        if self.op == "window_stream":
            if self.p["kind"] == "session" or self.p["closed"] == "left":
                return w >= end
            return w > end
        return w > end if self.p["closed"] in ("right", "both") else w >= end

    def _is_late(self, t, w):
        if w is None:
            return False
        if self.op == "window_stream" and self.p["kind"] != "session":
            wins = self._windows_of(t)
            return bool(wins) and all(self._closed(we, w) for _, we in wins)
        return t < w

    def push(self, index):
        if self.finished:
            raise OracleError("invalid_input", "the stream is finished")
        rows = self._batch_rows(index)
        times = [self._time(r) for r in rows]
        nulls = sum(t is None for t in times)
        if nulls and self.p["null_time"] == "error":
            raise OracleError("null_time", f"{nulls} null times")
        previous = self.watermark
        late = 0
        for r, t in zip(rows, times):
            if t is not None and self._is_late(t, previous):
                self.late.append(r)
                late += 1
            else:
                self.counted.append(r)
        valid = [t for t in times if t is not None]
        if valid:
            candidate = max(valid) - self.lateness
            self.watermark = candidate if previous is None else max(previous, candidate)
        self.stats["rows_in"] += len(rows)
        self.stats["rows_late"] += late
        self.stats["null_times_dropped"] += nulls
        return self._emit(all_open=False)

    def advance(self, value):
        if self.finished:
            raise OracleError("invalid_input", "the stream is finished")
        self.watermark = value if self.watermark is None else max(self.watermark, value)
        return self._emit(all_open=False)

    def finish(self):
        if self.finished:
            raise OracleError("invalid_input", "the stream is finished")
        out = self._emit(all_open=True)
        self.finished = True
        return out

    def take_late(self):
        out_schema = [(f["name"], T(f["type"])) for f in self.schema]
        cols = {n: [oracle.decode_value(t, r[n]) for r in self.late] for n, t in out_schema}
        self.late = []
        return out_schema, cols

    def _emit(self, all_open):
        batch_case = {
            "op": self.batch_op,
            "spec": self.batch_spec,
            "input": {"schema": self.schema,
                      "batches": [{"columns": {f["name"]: [r[f["name"]] for r in self.counted] for f in self.schema}}]},
        }
        out_schema, cols, _meta = brute(batch_case)
        n = len(next(iter(cols.values()))) if cols else 0
        if self.op == "window_stream":
            by = self.p["by"]
            ids = [tuple(cols[k][i] for k in by) + (cols["window_start"][i], cols["window_end"][i]) for i in range(n)]
            ends = cols["window_end"]
            order = list(range(n))  # window_agg's order already
        else:
            # rolling's output is the counted rows with a time, in arrival order.
            arrivals = [i for i, r in enumerate(self.counted) if r[self.tname] is not None]
            ids = arrivals
            ends = cols[self.tname]
            order = sorted(range(n), key=lambda i: (ends[i], arrivals[i]))
        chosen = [i for i in order if ids[i] not in self.emitted and (all_open or self._closed(ends[i], self.watermark))]
        self.emitted.update(ids[i] for i in chosen)
        return out_schema, {name: [cols[name][i] for i in chosen] for name, _ in out_schema}


def encode_table(out_schema, cols):
    return {
        "schema": [{"name": n, "type": t.canonical()} for n, t in out_schema],
        "columns": {n: [encode_value(t, v) for v in cols[n]] for n, t in out_schema},
    }


def run_steps(case):
    """Yields (step index, step, result) with result ("table", schema, cols), ("error", OracleError) or None."""
    stream = Stream(case)
    for i, step in enumerate(case["steps"]):
        actions = [a for a in ACTIONS if a in step]
        assert len(actions) == 1, f"step {i} needs exactly one of {ACTIONS}"
        action = actions[0]
        try:
            if action == "push":
                result = ("table",) + stream.push(step["push"])
            elif action == "advance":
                result = ("table",) + stream.advance(step["advance"])
            elif action == "finish":
                result = ("table",) + stream.finish()
            elif action == "take_late":
                result = ("table",) + stream.take_late()
            else:
                result = None
        except OracleError as e:
            result = ("error", e)
        yield i, step, result, dict(stream.stats)


def check_case(case, write=False):
    name = case["name"]
    problems = []
    for key in ("name", "doc", "op", "input", "spec", "steps"):
        if key not in case:
            problems.append(f"{name}: missing '{key}'")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        problems.append(f"{name}: name is not snake_case")
    if case.get("op") not in ("window_stream", "rolling_stream"):
        problems.append(f"{name}: op must be window_stream or rolling_stream")
    if problems:
        return problems, case
    new_case = copy.deepcopy(case)
    for i, step, result, stats in run_steps(case):
        label = f"{name} step {i}"
        new_step = new_case["steps"][i]
        if result is None:
            if "expected" in step or "error" in step:
                problems.append(f"{label}: restore has no result")
            continue
        if "error" in step:
            want = step["error"]["kind"]
            if want not in ERROR_KINDS | {"resource_limit"}:
                problems.append(f"{label}: unknown error kind {want}")
            if result[0] != "error":
                problems.append(f"{label}: expected error {want}, the oracle computes a result")
            elif result[1].kind != want:
                problems.append(f"{label}: expected error {want}, the oracle says {result[1].kind} ({result[1].message})")
            continue
        if result[0] == "error":
            problems.append(f"{label}: the oracle raises {result[1]}")
            continue
        _, out_schema, cols = result
        if write:
            new_step["expected"] = encode_table(out_schema, cols)
        elif "expected" not in step:
            problems.append(f"{label}: needs 'expected' or 'error'")
            continue
        else:
            exp = step["expected"]
            want_schema = [(f["name"], T(f["type"]).canonical()) for f in exp["schema"]]
            got_schema = [(n, t.canonical()) for n, t in out_schema]
            if want_schema != got_schema:
                problems.append(f"{label}: schema {want_schema} vs oracle {got_schema}")
                continue
            _, wcols = decode_expected(exp)
            problems += compare_cols(out_schema, wcols, cols, None, f"{label} (expected vs oracle)")
        if "stats" in step or write:
            if write:
                new_step["stats"] = stats
            elif step["stats"] != stats:
                problems.append(f"{label}: stats {step['stats']} vs oracle {stats}")
    if not write:
        problems += check_promise(case)
    return problems, (new_case if write else case)


def check_promise(case):
    """The promise of docs/semantics.md: when no row was late and every batch was
    pushed once, in order, up to finish(), everything emitted is the batch
    result over all the rows (compared as sets of rows, after sorting)."""
    steps = case["steps"]
    pushes = [s["push"] for s in steps if "push" in s]
    if any("error" in s for s in steps) or not any("finish" in s for s in steps):
        return []
    if pushes != list(range(len(case["input"]["batches"]))):
        return []
    emitted, stats = None, None
    for _, step, result, stats in run_steps(case):
        if result is not None and "take_late" not in step:
            _, _, cols = result
            emitted = cols if emitted is None else {k: emitted[k] + cols[k] for k in cols}
    if stats["rows_late"]:
        return []
    stream = Stream(case)
    rows = [r for i in pushes for r in stream._batch_rows(i)]
    out_schema, cols, _ = brute({
        "op": stream.batch_op, "spec": stream.batch_spec,
        "input": {"schema": stream.schema,
                  "batches": [{"columns": {f["name"]: [r[f["name"]] for r in rows] for f in stream.schema}}]}})

    def table_rows(c):
        n = len(c[out_schema[0][0]])
        return sorted(tuple(repr(c[name][i]) for name, _ in out_schema) for i in range(n))

    if table_rows(emitted) != table_rows(cols):
        return [f"{case['name']}: the emissions differ from the batch result over all rows"]
    return []


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="verify (default)")
    ap.add_argument("--write", action="store_true", help="recompute and rewrite every step's 'expected'")
    ap.add_argument("--case", nargs="*", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    return oracle.run_files(CASE_DIR, lambda case: check_case(case, write=args.write), write=args.write,
                            only=args.case, verbose=args.verbose, what="stream cases")


if __name__ == "__main__":
    sys.exit(main())
