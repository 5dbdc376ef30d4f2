"""Writes window_stream_v<N>.snap: a WindowStream snapshot of the format
version N this sash writes, restored by every binding's tests (Python, C,
Go, Java) so that a snapshot from one language restores in all, and every
format stays readable: the files of earlier versions stay as they were
(window_stream_v1.snap was written by the first format, and restores to the
same stream, whose snapshot is now window_stream_v2.snap).

    .venv/bin/python tests/data/streams/make_golden.py

The stream: 1-unit tumbling windows of 10 by key, lateness 2; after one push
of (ts, key, v) = (1, a, 1.0), (5, b, 2.0), (11, a, 3.0), (7, a, 4.0) the
watermark is 9 and nothing is emitted. finish() then gives, by window start
and key: [0, 10) a: n=2, s=5.0; [0, 10) b: n=1, s=2.0; [10, 20) a: n=1, s=3.0.
"""

from pathlib import Path

import pyarrow as pa

import sash

SPEC = dict(time="ts", every=10, by="key", aggs=["count() as n", "sum(v) as s", "median(v) as med", "first(v) as f"], lateness=2)


def golden() -> bytes:
    stream = sash.WindowStream(**SPEC)
    out = stream.push(pa.table({"ts": pa.array([1, 5, 11, 7], pa.int64()), "key": ["a", "b", "a", "a"], "v": [1.0, 2.0, 3.0, 4.0]}))
    assert out.num_rows == 0
    return stream.snapshot()


def version(data: bytes) -> int:
    return int.from_bytes(data[8:12], "little")


if __name__ == "__main__":
    data = golden()
    path = Path(__file__).with_name(f"window_stream_v{version(data)}.snap")
    path.write_bytes(data)
    print(f"wrote {path} ({path.stat().st_size} bytes)")
