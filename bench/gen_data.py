#!/usr/bin/env python3
"""Generate the shared benchmark data set for sash and its peers (DuckDB, Polars, pandas).

What
    A deterministic table (numpy ``default_rng(42)``) written as an Arrow IPC
    *file* (random-access format, not the stream format):

    ============  =================  ==============================================
    column        type               values
    ============  =================  ==============================================
    ``ts``        ``timestamp[ms]``  sorted ascending; starts at 2024-01-01T00:00:00
                  (no time zone,     (UTC) and each next row is 5..15 ms later
                  read as UTC)       (uniform integer steps, mean 10 ms)
    ``key``       ``int32``          uniform random in [0, 1000)
    ``val``       ``float64``        standard normal
    ============  =================  ==============================================

    10M rows span about 27.8 hours: ~1,667 one-minute panes x 1,000 keys, about
    6 rows per key and minute, and one row per key every ~10 s on average.

    The file is written in record batches of at most ``--batch-rows`` rows
    (default 2^21, so 10M rows make 5 batches). Its schema metadata records the
    generator version, seed and row count; an existing file is reused when
    that metadata and the row count match, and regenerated otherwise.

How
    .venv/bin/python bench/gen_data.py                # bench/data/windows_10m.arrow
    .venv/bin/python bench/gen_data.py --rows 100000  # bench/data/windows_100k.arrow
    .venv/bin/python bench/gen_data.py --force        # regenerate even if present

    Prints the path of the file on the last line of stdout. ``bench/run.py``
    calls :func:`ensure_data` directly. ``bench/data/`` is git-ignored.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

SEED = 42
GENERATOR_VERSION = "1"
N_KEYS = 1000
START = np.datetime64("2024-01-01T00:00:00", "ms")
STEP_MS = (5, 15)  # inclusive bounds of the gap between consecutive rows
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_ROWS = 10_000_000
DEFAULT_BATCH_ROWS = 1 << 21


def rows_label(n: int) -> str:
    """10_000_000 -> '10m', 100_000 -> '100k', 1234 -> '1234'."""
    for div, suffix in ((1_000_000_000, "g"), (1_000_000, "m"), (1_000, "k")):
        if n >= div and n % div == 0:
            return f"{n // div}{suffix}"
    return str(n)


def data_path(rows: int = DEFAULT_ROWS, data_dir: Path = DATA_DIR) -> Path:
    return Path(data_dir) / f"windows_{rows_label(rows)}.arrow"


def make_table(rows: int, seed: int = SEED) -> pa.Table:
    """Build the table in memory. Same (rows, seed) -> bit-identical table."""
    if rows < 1:
        raise ValueError("rows must be >= 1")
    rng = np.random.default_rng(seed)
    steps = rng.integers(STEP_MS[0], STEP_MS[1] + 1, size=rows - 1, dtype=np.int64)
    ts = np.empty(rows, dtype=np.int64)
    ts[0] = START.astype(np.int64)
    np.cumsum(steps, out=ts[1:])
    ts[1:] += ts[0]
    key = rng.integers(0, N_KEYS, size=rows, dtype=np.int32)
    val = rng.standard_normal(rows)
    schema = pa.schema(
        [("ts", pa.timestamp("ms")), ("key", pa.int32()), ("val", pa.float64())],
        metadata=_metadata(rows, seed),
    )
    return pa.Table.from_arrays(
        [pa.array(ts, pa.timestamp("ms")), pa.array(key), pa.array(val)], schema=schema
    )


def _metadata(rows: int, seed: int) -> dict[bytes, bytes]:
    return {
        b"sash.bench.generator": GENERATOR_VERSION.encode(),
        b"sash.bench.seed": str(seed).encode(),
        b"sash.bench.rows": str(rows).encode(),
    }


def file_is_valid(path: Path, rows: int, seed: int = SEED) -> bool:
    """True if ``path`` is an Arrow IPC file written by this generator with ``rows`` rows."""
    try:
        with pa.memory_map(str(path), "r") as source:
            reader = pa.ipc.open_file(source)
            if reader.schema.metadata != _metadata(rows, seed):
                return False
            n = sum(reader.get_batch(i).num_rows for i in range(reader.num_record_batches))
            return n == rows
    except (OSError, pa.ArrowInvalid):
        return False


def write_table(table: pa.Table, path: Path, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=batch_rows)
    os.replace(tmp, path)  # atomic: a half-written file is never picked up


def ensure_data(
    rows: int = DEFAULT_ROWS,
    force: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    data_dir: Path = DATA_DIR,
    quiet: bool = False,
) -> Path:
    """Return the data file for ``rows``, generating it if missing or stale."""
    path = data_path(rows, data_dir)
    if not force and file_is_valid(path, rows):
        if not quiet:
            print(f"gen_data: reusing {path} ({rows:,} rows)", file=sys.stderr)
        return path
    if not quiet:
        print(f"gen_data: writing {path} ({rows:,} rows, seed {SEED}) ...", file=sys.stderr)
    write_table(make_table(rows), path, batch_rows)
    return path


def load_table(path: Path) -> pa.Table:
    """Read the whole file into memory (what the peers benchmark against)."""
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="number of rows (default 10M)")
    ap.add_argument("--batch-rows", type=int, default=DEFAULT_BATCH_ROWS,
                    help="max rows per record batch (default 2^21)")
    ap.add_argument("--force", action="store_true", help="regenerate even if the file is valid")
    args = ap.parse_args(argv)
    print(ensure_data(args.rows, force=args.force, batch_rows=args.batch_rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
