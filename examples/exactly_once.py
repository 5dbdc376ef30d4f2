"""Per-minute metrics of an access log, exactly once, through kill -9.

A streaming job that may die at any moment and must neither lose nor repeat
a result: it reads the log in batches, pushes them into a
``sash.WindowStream`` (requests and bytes per minute and status), and appends
every window the stream emits to an output file, one JSON line each. Every
``--commit-every`` batches it commits three things together, atomically: the
stream's snapshot, how many input batches it has consumed, and how long the
output is. A restart reads the last commit, cuts the output back to the
committed length (lines written after the commit are written again), restores
the stream and skips the batches already consumed. Whatever moment the
process died at, the finished output is byte for byte what one uninterrupted
run writes (tests/python/test_exactly_once.py kills it 20 times to check).

The commit is one file written whole to a temporary name, flushed to disk,
and renamed over the last one: a rename is atomic, so a reader sees the old
commit or the new one, never half of either.

    python examples/exactly_once.py examples/data/apache_combined_10k.log out.jsonl

Rows the stream finds too late (more than ``--lateness`` behind the newest
time seen) are not silently dropped: they are written as ``{"late": ...}``
lines.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import struct
import sys
import time

import pyarrow as pa

import sash

SPEC = dict(
    time="timestamp",
    every="1m",
    by="status",
    aggs=["count() as requests", "sum(size) as bytes", "count_distinct(host) as hosts"],
)


def load_commit(path: Path) -> tuple[dict, bytes] | None:
    """The last commit: (its metadata, the stream's snapshot), or None."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    (meta_len,) = struct.unpack_from("<Q", data)
    meta = json.loads(data[8 : 8 + meta_len])
    return meta, data[8 + meta_len :]


def commit(path: Path, meta: dict, snapshot: bytes) -> None:
    """Replaces the commit at `path` atomically (write, fsync, rename, fsync the directory)."""
    body = json.dumps(meta, sort_keys=True).encode()
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(body)) + body + snapshot)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def lines(table: pa.Table, kind: str) -> bytes:
    """One JSON line per row, `{kind: row}`; times as text (Arrow's cast)."""
    columns = [c.cast(pa.string()) if pa.types.is_timestamp(c.type) else c for c in table.columns]
    table = pa.table(columns, names=table.column_names)
    return b"".join((json.dumps({kind: row}, sort_keys=True) + "\n").encode() for row in table.to_pylist())


def run(log: Path, output: Path, *, batch_size: int, commit_every: int, lateness: str, pace: float) -> None:
    commit_path = output.with_name(output.name + ".commit")
    last = load_commit(commit_path)
    if last is None:
        meta = {"batches": 0, "output_bytes": 0, "finished": False}
        stream = sash.WindowStream(**SPEC, lateness=lateness)
    else:
        meta, snapshot = last
        stream = sash.WindowStream.restore(snapshot)
    if meta["finished"]:
        print("already finished", flush=True)
        return
    print(f"starting after batch {meta['batches']}, output at {meta['output_bytes']} bytes", flush=True)
    with open(output, "ab+") as out:
        # Lines written after the last commit are written again below.
        out.truncate(meta["output_bytes"])
        out.seek(0, os.SEEK_END)

        def emit(windows: pa.Table) -> None:
            out.write(lines(windows, "window"))
            out.write(lines(stream.take_late(), "late"))

        def save(batches: int, finished: bool) -> None:
            out.flush()
            os.fsync(out.fileno())
            meta = {"batches": batches, "output_bytes": out.tell(), "finished": finished}
            commit(commit_path, meta, stream.snapshot())

        batches = 0
        for batch in sash.read_log(log, "combined", batch_size=batch_size):
            batches += 1
            if batches <= meta["batches"]:
                continue  # consumed before the last commit
            emit(stream.push(batch.drop_columns(["_error"])))
            if batches % commit_every == 0:
                save(batches, False)
            time.sleep(pace)
        emit(stream.finish())
        save(batches, True)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("log", type=Path, help="an access log in the combined format")
    ap.add_argument("output", type=Path, help="JSON lines of windows (appended; <output>.commit holds the commit)")
    ap.add_argument("--batch-size", type=int, default=500, help="log lines per batch (default 500)")
    ap.add_argument("--commit-every", type=int, default=3, help="commit every N batches (default 3)")
    ap.add_argument("--lateness", default="5m", help="how far behind the newest time a row may come (default 5m)")
    ap.add_argument("--pace", type=float, default=0.0, help="seconds to sleep after each batch (for the kill test)")
    args = ap.parse_args(argv)
    run(args.log, args.output, batch_size=args.batch_size, commit_every=args.commit_every, lateness=args.lateness,
        pace=args.pace)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
