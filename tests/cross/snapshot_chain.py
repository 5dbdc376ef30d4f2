#!/usr/bin/env python3
"""One WindowStream carried across languages by its snapshot: Python → Java → C → Python.

The Java test `dev.sash.SnapshotChainTest` (make test-jvm) drives the chain:

    snapshot_chain.py start   A.snap  py1.txt     Python: rows [0, 100), snapshot A
    (Java, in the test)       A → B   java.txt    Java:   restore A, rows [100, 200), snapshot B
    snapshot_step B C c.txt                        C:      restore B, rows [200, 300), snapshot C
    snapshot_chain.py finish  C.snap  py2.txt     Python: restore C, rows [300, 400), finish
    snapshot_chain.py reference ref.txt R.snap    one Python stream, never stopped; R = its snapshot after row 300

and checks that py1 + java + c + py2 is ref, line for line, and that C is R
byte for byte. Every step pushes 25 rows at a time and writes each emitted
window as one line (the format of `line` below; tests/c/snapshot_step.c and
SnapshotChainTest write the same). The rows and the spec are defined here
and repeated there: row i has ts = 2i - i % 3, key = i % 4, v = 7i % 11.
"""

from __future__ import annotations

import sys

import pyarrow as pa

import sash

SPEC = {
    "time": "ts", "every": 10, "period": 20, "by": "key", "lateness": 3,
    "aggs": ["count() as n", "sum(v) as s", "min(v) as lo", "max(v) as hi", "count_distinct(v) as cd",
             "median(v) as med", "first(v) as f", "last(v) as l"],
}
PUSH = 25


def rows(start: int, end: int) -> pa.RecordBatch:
    idx = range(start, end)
    return pa.record_batch({
        "ts": pa.array([2 * i - i % 3 for i in idx], pa.int64()),
        "key": pa.array([i % 4 for i in idx], pa.int32()),
        "v": pa.array([7 * i % 11 for i in idx], pa.int64()),
    })


def lines(table: pa.Table) -> list[str]:
    return [
        f"{r['window_start']},{r['window_end']},{r['key']},{r['n']},{r['s']},{r['lo']},{r['hi']},{r['cd']},"
        f"{r['med']:.1f},{r['f']},{r['l']}"
        for r in table.to_pylist()
    ]


def push_rows(stream: sash.WindowStream, start: int, end: int) -> list[str]:
    out = []
    for i in range(start, end, PUSH):
        out += lines(stream.push(rows(i, min(i + PUSH, end))))
    return out


def write(path: str, out: list[str]) -> None:
    with open(path, "w") as f:
        f.write("".join(line + "\n" for line in out))


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "start":
        stream = sash.WindowStream(**SPEC)
        out = push_rows(stream, 0, 100)
        open(argv[1], "wb").write(stream.snapshot())
        write(argv[2], out)
    elif command == "finish":
        stream = sash.WindowStream.restore(open(argv[1], "rb").read())
        out = push_rows(stream, 300, 400) + lines(stream.finish())
        write(argv[2], out)
    elif command == "reference":
        stream = sash.WindowStream(**SPEC)
        out = push_rows(stream, 0, 300)
        open(argv[2], "wb").write(stream.snapshot())
        out += push_rows(stream, 300, 400) + lines(stream.finish())
        write(argv[1], out)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main(sys.argv[1:])
