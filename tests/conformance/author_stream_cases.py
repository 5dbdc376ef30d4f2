#!/usr/bin/env python3
"""Authoring aid: writes the inputs, specs and steps of the streaming corpus.

The JSON files under streams/ are the corpus; this script is how their cases
were first written. It never computes results: after running it, run
`stream_oracle.py --write` (which follows docs/semantics.md "Streaming" on top
of the batch brute force), read the emissions, then `stream_oracle.py --check`.

    .venv/bin/python tests/conformance/author_stream_cases.py && \\
    .venv/bin/python tests/conformance/stream_oracle.py --write && \\
    .venv/bin/python tests/conformance/stream_oracle.py --check
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from oracle import dump  # noqa: E402

FILES: dict[str, list] = {}
_current: list = []


def topic(name):
    global _current
    _current = FILES.setdefault(name, [])


def case(name, doc, schema, batches, spec, steps, op="window_stream"):
    """`batches`: a list of {column: values} (with an optional "__slice"); `steps`:
    ints push that batch, ("advance", t), "finish", "late", "restore",
    ("error", step, kind, contains) for a step that must fail."""
    out_batches = []
    for b in batches:
        b = dict(b)
        sl = b.pop("__slice", None)
        entry = {"columns": b}
        if sl is not None:
            entry["slice"] = list(sl)
        out_batches.append(entry)
    out_steps = []
    for s in steps:
        error = None
        if isinstance(s, tuple) and s[0] == "error":
            _, s, kind, contains = s
            error = {"kind": kind, "message_contains": contains}
        if isinstance(s, int):
            step = {"push": s}
        elif isinstance(s, tuple) and s[0] == "advance":
            step = {"advance": s[1]}
        elif s == "finish":
            step = {"finish": True}
        elif s == "late":
            step = {"take_late": True}
        elif s == "restore":
            step = {"restore": True}
        else:
            raise ValueError(s)
        if error:
            step["error"] = error
        out_steps.append(step)
    _current.append({"name": name, "doc": doc, "op": op,
                     "input": {"schema": [{"name": n, "type": t} for n, t in schema], "batches": out_batches},
                     "spec": spec, "steps": out_steps})


TS = ("ts", "timestamp[s]")
V = ("v", "float64")
K = ("k", "utf8")
COUNT_SUM = ["count() as n", "sum(v) as s"]

# =====================================================================
topic("window_stream")
case("stream_tumbling_in_order", "in-order pushes: a window is emitted by the push whose rows move W to its end",
     [TS, V], [{"ts": [0, 3, 9], "v": [1.0, 2.0, 3.0]}, {"ts": [10, 15], "v": [4.0, 5.0]},
               {"ts": [20, 31], "v": [6.0, 7.0]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM}, [0, 1, 2, "finish"])
case("stream_tumbling_keys", "keys come and go; each emission is in window_agg's order (start, then keys)",
     [TS, K, V], [{"ts": [0, 1, 2], "k": ["b", "a", "b"], "v": [1.0, 2.0, 3.0]},
                  {"ts": [12, 13], "k": ["c", None], "v": [4.0, 5.0]},
                  {"ts": [25, 26, 27], "k": ["a", "a", "b"], "v": [6.0, 7.0, 8.0]}],
     {"time": "ts", "every": "10s", "by": "k", "aggs": COUNT_SUM}, [0, 1, 2, "finish"])
case("stream_tumbling_closed_right", "(s, e] is emitted once W > e: a row at e still counts in it",
     [TS, V], [{"ts": [1, 10], "v": [1.0, 2.0]}, {"ts": [10], "v": [3.0]}, {"ts": [11], "v": [4.0]}],
     {"time": "ts", "every": "10s", "closed": "right", "aggs": COUNT_SUM}, [0, 1, 2, "finish"])
case("stream_tumbling_lateness", "rows out of order within lateness count; W trails the largest time by lateness",
     [TS, V], [{"ts": [12, 4], "v": [1.0, 2.0]}, {"ts": [8, 21], "v": [3.0, 4.0]},
               {"ts": [17, 33], "v": [5.0, 6.0]}, {"ts": [29], "v": [7.0]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM, "lateness": "5s"}, [0, 1, 2, 3, "finish"])
case("stream_tumbling_late_rows", "a row whose window was emitted is late: returned by take_late, in arrival order, once",
     [TS, V], [{"ts": [0, 15], "v": [1.0, 2.0]}, {"ts": [3, 16, 9], "v": [3.0, 4.0, 5.0]},
               {"ts": [30], "v": [6.0]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM}, [0, 1, "late", "late", 2, "finish", "late"])
case("stream_hopping_partly_late", "hopping: a row counts in its windows still open, and is late only when all are emitted",
     [TS, V], [{"ts": [0, 12], "v": [1.0, 2.0]}, {"ts": [7, 3], "v": [3.0, 4.0]}, {"ts": [25], "v": [5.0]}],
     {"time": "ts", "every": "5s", "period": "10s", "aggs": COUNT_SUM}, [0, 1, "late", 2, "finish"])
case("stream_hopping_in_order", "hopping 20s every 10s: each window once, when W reaches its end",
     [TS, K, V], [{"ts": [0, 5, 11], "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]},
                  {"ts": [19, 22], "k": ["b", "b"], "v": [4.0, 5.0]}, {"ts": [41], "k": ["a"], "v": [6.0]}],
     {"time": "ts", "every": "10s", "period": "20s", "by": "k", "aggs": COUNT_SUM}, [0, 1, 2, "finish"])
case("stream_hopping_gap_row", "period < every: a row in a gap of the grid counts nowhere and is not late",
     [TS, V], [{"ts": [0, 2], "v": [1.0, 2.0]}, {"ts": [7, 11], "v": [3.0, 4.0]}, {"ts": [6], "v": [5.0]}],
     {"time": "ts", "every": "10s", "period": "5s", "aggs": COUNT_SUM}, [0, 1, 2, "late", "finish"])
case("stream_tumbling_offset", "an offset moves the grid; emission follows the shifted ends",
     [TS, V], [{"ts": [2, 3, 12], "v": [1.0, 2.0, 3.0]}, {"ts": [13, 24], "v": [4.0, 5.0]}],
     {"time": "ts", "every": "10s", "offset": "3s", "aggs": COUNT_SUM}, [0, 1, "finish"])
case("stream_advance", "advance emits what W passes, never moves W back, and takes no rows",
     [TS, V], [{"ts": [0, 11, 25], "v": [1.0, 2.0, 3.0]}, {"ts": [41], "v": [4.0]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM, "lateness": "1h"},
     [0, ("advance", 10), ("advance", 5), ("advance", 20), 1, ("advance", 1000), "finish"])
case("stream_restore_between_pushes", "a stream restored from a snapshot at any push boundary emits what one that never stopped emits",
     [TS, K, V], [{"ts": [0, 4, 8], "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]},
                  {"ts": [6, 14], "k": ["b", "a"], "v": [4.0, 5.0]}, {"ts": [2, 27], "k": ["a", "b"], "v": [6.0, 7.0]},
                  {"ts": [39], "k": ["a"], "v": [8.0]}],
     {"time": "ts", "every": "10s", "by": "k", "aggs": COUNT_SUM + ["mean(v) as m", "first(v) as f", "last(v) as l"],
      "lateness": "5s"},
     ["restore", 0, "restore", 1, "restore", 2, "late", "restore", 3, "restore", "finish"])
case("stream_null_time_error", "a null time under null_time=error fails the push and changes nothing",
     [TS, V], [{"ts": [0, 5], "v": [1.0, 2.0]}, {"ts": [11, None], "v": [3.0, 4.0]}, {"ts": [12, 21], "v": [5.0, 6.0]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM}, [0, ("error", 1, "null_time", []), 2, "finish"])
case("stream_null_time_drop", "null_time=drop drops null times: never late, never counted",
     [TS, V], [{"ts": [0, None, 5], "v": [1.0, 2.0, 3.0]}, {"ts": [None, 21], "v": [4.0, 5.0]}],
     {"time": "ts", "every": "10s", "null_time": "drop", "aggs": COUNT_SUM}, [0, 1, "late", "finish"])
case("stream_after_finish", "finish emits every open window; push, advance and finish after it are errors",
     [TS, V], [{"ts": [0, 15], "v": [1.0, 2.0]}, {"ts": [30], "v": [3.0]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM},
     [0, "finish", ("error", 1, "invalid_input", ["finish"]), ("error", ("advance", 100), "invalid_input", ["finish"]),
      ("error", "finish", "invalid_input", ["finish"]), "late"])
case("stream_empty_and_sliced_pushes", "empty pushes change nothing; sliced batches push only their rows",
     [TS, V], [{"ts": [], "v": []},
               {"ts": [None, 1, 4, 9], "v": ["NaN", 1.0, 2.0, 3.0], "__slice": [1, 2]},
               {"ts": [], "v": []}, {"ts": [12, 13, None], "v": [4.0, 5.0, 6.0], "__slice": [0, 2]},
               {"ts": [9, 31, 99], "v": [7.0, 8.0, 9.0], "__slice": [1, 1]}],
     {"time": "ts", "every": "10s", "aggs": COUNT_SUM}, [0, 1, 2, 3, 4, "finish"])
case("stream_ties_across_pushes", "rows of equal time are ordered by arrival across pushes: first/last/min_by as one call gives",
     [TS, ("name", "utf8"), V], [{"ts": [5, 5], "name": ["a", "b"], "v": [1.0, 2.0]},
                                 {"ts": [5, 2], "name": ["c", "d"], "v": [2.0, 1.0]}, {"ts": [11], "name": ["e"], "v": [0.0]}],
     {"time": "ts", "every": "10s", "lateness": "5s",
      "aggs": ["first(name) as f", "last(name) as l", "min_by(name, v) as lo", "max_by(name, v) as hi"]},
     [0, "restore", 1, 2, "finish"])
case("stream_every_aggregation", "every aggregation's state crosses pushes and snapshots exactly",
     [TS, K, V, ("i", "int64")],
     [{"ts": [0, 1, 2, 3], "k": ["a", "a", "b", "a"], "v": [1.5, None, 3.0, "NaN"], "i": [1, 2, 2, None]},
      {"ts": [4, 5, 6], "k": ["b", "a", "a"], "v": [2.0, -1.0, 4.0], "i": [3, 2, 5]},
      {"ts": [7, 11, 12], "k": ["a", "b", "a"], "v": [0.5, 1.0, 2.0], "i": [1, 1, 7]}],
     {"time": "ts", "every": "10s", "by": "k", "lateness": "2s",
      "aggs": ["count() as n", "count(v) as nv", "sum(i) as si", "sum(v) as sv", "mean(i) as mi", "min(v) as lo",
               "max(i) as hi", "var(i) as var", "std(i) as sd", "median(i) as med", "quantile(v, 0.25) as q",
               "count_distinct(i) as cd", "first(v) as f", "last(i) as l", "min_by(i, v) as mb",
               "max_by(v, i) as xb"]},
     [0, "restore", 1, "restore", 2, "finish"])
case("stream_int_time", "an integer time column: durations and lateness in ticks",
     [("t", "int64"), V], [{"t": [100, 104, 99], "v": [1.0, 2.0, 3.0]}, {"t": [111, 95, 120], "v": [4.0, 5.0, 6.0]}],
     {"time": "t", "every": 10, "aggs": COUNT_SUM, "lateness": 3}, [0, 1, ("advance", 115), "late", "finish"])
case("stream_timestamp_ms_zone", "a zoned millisecond time: windows keep the zone; lateness in ticks of ms",
     [("ts", "timestamp[ms, Europe/Paris]"), V],
     [{"ts": [0, 1500, 999], "v": [1.0, 2.0, 3.0]}, {"ts": [2001, 1000, 4000], "v": [4.0, 5.0, 6.0]}],
     {"time": "ts", "every": "1s", "aggs": COUNT_SUM, "lateness": "500ms"}, [0, 1, "late", "finish"])
case("stream_date32", "date32 time with day windows",
     [("d", "date32"), V], [{"d": [0, 1, 6], "v": [1.0, 2.0, 3.0]}, {"d": [7, 15], "v": [4.0, 5.0]}],
     {"time": "d", "every": "7d", "aggs": COUNT_SUM}, [0, 1, "finish"])
case("stream_dictionary_keys", "dictionary keys stay dictionaries and sort by value in each emission",
     [TS, ("k", "dictionary<int32, utf8>"), V],
     [{"ts": [0, 1, 2], "k": ["z", "a", "m"], "v": [1.0, 2.0, 3.0]}, {"ts": [11], "k": ["a"], "v": [4.0]}],
     {"time": "ts", "every": "10s", "by": "k", "aggs": COUNT_SUM}, [0, "restore", 1, "finish"])

topic("session_stream")
case("stream_session_basic", "a session is emitted once W reaches its last time + gap",
     [TS, K, V], [{"ts": [0, 3, 4], "k": ["a", "a", "b"], "v": [1.0, 2.0, 3.0]},
                  {"ts": [9, 14], "k": ["b", "a"], "v": [4.0, 5.0]}, {"ts": [30], "k": ["a"], "v": [6.0]}],
     {"time": "ts", "session_gap": "5s", "by": "k", "aggs": COUNT_SUM}, [0, 1, 2, "finish"])
case("stream_session_merge", "a row on time between two open sessions, less than a gap from each, joins them",
     [TS, V], [{"ts": [0, 8], "v": [1.0, 2.0]}, {"ts": [4], "v": [3.0]}, {"ts": [20], "v": [4.0]}],
     {"time": "ts", "session_gap": "5s", "aggs": COUNT_SUM + ["first(v) as f", "last(v) as l"], "lateness": "10s"},
     [0, "restore", 1, 2, "finish"])
case("stream_session_late", "sessions: a row with time < W is late",
     [TS, V], [{"ts": [0, 10], "v": [1.0, 2.0]}, {"ts": [9, 12, 11], "v": [3.0, 4.0, 5.0]}, {"ts": [40], "v": [6.0]}],
     {"time": "ts", "session_gap": "3s", "aggs": COUNT_SUM, "lateness": "1s"}, [0, 1, "late", 2, "finish"])
case("stream_session_advance_restore", "advance closes sessions; a restore in between changes nothing",
     [TS, K, V], [{"ts": [0, 1, 2], "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]}, {"ts": [20], "k": ["b"], "v": [4.0]}],
     {"time": "ts", "session_gap": "4s", "by": "k", "aggs": COUNT_SUM, "lateness": "1m"},
     [0, ("advance", 5), "restore", ("advance", 6), 1, ("advance", 24), "finish"])

topic("rolling_stream")
R = "rolling_stream"
case("stream_rolling_basic", "closed right: a row is emitted once W > its time, with rolling's columns",
     [TS, V], [{"ts": [0, 4, 9], "v": [1.0, 2.0, 3.0]}, {"ts": [10, 15], "v": [4.0, 5.0]}, {"ts": [30], "v": [6.0]}],
     {"time": "ts", "period": "10s", "aggs": COUNT_SUM}, [0, 1, 2, "finish"], op=R)
case("stream_rolling_closed_left", "closed left: a row is emitted once W >= its time",
     [TS, V], [{"ts": [0, 4, 9], "v": [1.0, 2.0, 3.0]}, {"ts": [9, 15], "v": [4.0, 5.0]}],
     {"time": "ts", "period": "10s", "closed": "left", "aggs": COUNT_SUM}, [0, 1, "late", "finish"], op=R)
case("stream_rolling_out_of_order", "rows within lateness come out by time, ties in arrival order",
     [TS, K, V], [{"ts": [5, 2, 5], "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]},
                  {"ts": [4, 5, 12], "k": ["a", "b", "a"], "v": [4.0, 5.0, 6.0]},
                  {"ts": [9, 20], "k": ["b", "b"], "v": [7.0, 8.0]}],
     {"time": "ts", "period": "5s", "by": "k", "aggs": COUNT_SUM + ["first(v) as f"], "lateness": "3s"},
     [0, 1, "restore", 2, "finish"], op=R)
case("stream_rolling_rows", "a row-count period by key across pushes and restores",
     [TS, K, V], [{"ts": [0, 1, 2], "k": ["a", "b", "a"], "v": [1.0, 2.0, 3.0]},
                  {"ts": [3, 4, 5], "k": ["a", "a", "b"], "v": [4.0, 5.0, 6.0]}, {"ts": [6], "k": ["a"], "v": [7.0]}],
     {"time": "ts", "period": "2i", "by": "k", "aggs": COUNT_SUM}, [0, "restore", 1, "restore", 2, "finish"], op=R)
case("stream_rolling_late", "rolling: a row with time < W is late and never output",
     [TS, V], [{"ts": [0, 10], "v": [1.0, 2.0]}, {"ts": [5, 11], "v": [3.0, 4.0]}],
     {"time": "ts", "period": "10s", "aggs": COUNT_SUM}, [0, 1, "late", "finish"], op=R)
case("stream_rolling_null_time", "null_time=drop in a rolling stream: dropped rows are neither output nor late",
     [TS, V], [{"ts": [0, None, 3], "v": [1.0, 2.0, 3.0]}, {"ts": [None, 8], "v": [4.0, 5.0]}],
     {"time": "ts", "period": "5s", "null_time": "drop", "aggs": COUNT_SUM}, [0, 1, "finish"], op=R)
case("stream_rolling_advance", "advance emits the rows W passes",
     [TS, V], [{"ts": [0, 2, 4, 6], "v": [1.0, 2.0, 3.0, 4.0]}],
     {"time": "ts", "period": "3s", "aggs": COUNT_SUM, "lateness": "10s"},
     [0, ("advance", 3), ("advance", 4), ("advance", 1), "finish"], op=R)


def main():
    out = HERE / "streams"
    out.mkdir(exist_ok=True)
    old = {}
    for path in out.glob("*.json"):
        for c in json.loads(path.read_text())["cases"]:
            old[c["name"]] = c
    for name, cases in FILES.items():
        for c in cases:  # keep results already computed (the oracle rewrites them anyway)
            prev = old.get(c["name"])
            if prev and len(prev["steps"]) == len(c["steps"]):
                for s, p in zip(c["steps"], prev["steps"]):
                    for key in ("expected", "stats"):
                        if key in p and "error" not in s:
                            s[key] = p[key]
        (out / f"{name}.json").write_text(dump({"cases": cases}) + "\n")
    print({k: len(v) for k, v in FILES.items()}, sum(len(v) for v in FILES.values()))


if __name__ == "__main__":
    main()
