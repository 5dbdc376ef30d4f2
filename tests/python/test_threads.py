"""The thread count: set and read from Python, shared by many Python threads,
and never a part of any result (the same bytes with 1, 2 and 7 threads)."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import sash

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"


@pytest.fixture
def restore_threads():
    yield
    sash.set_threads(0)


def test_set_and_get(restore_threads):
    sash.set_threads(3)
    assert sash.get_threads() == 3
    sash.set_threads(1)
    assert sash.get_threads() == 1
    sash.set_threads(0)
    assert sash.get_threads() >= 1
    sash.set_threads(2)
    for bad in (-1, 1025, 10**12):
        with pytest.raises(sash.InvalidInputError, match="threads"):
            sash.set_threads(bad)
        # A failed call leaves the count as it was.
        assert sash.get_threads() == 2
    with pytest.raises(TypeError):
        sash.set_threads("2")


def test_the_environment_sets_the_default():
    code = "import sash; print(sash.get_threads()); sash.set_threads(0); print(sash.get_threads())"
    env = dict(os.environ, SASH_MAX_THREADS="5")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out == ["5", "5"]
    env["SASH_MAX_THREADS"] = "not a number"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == out[1] and int(out[0]) >= 1


def big_table(rows=600_000, seed=7):
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 10**12, rows)).astype("datetime64[us]")
    values = rng.normal(0, 1e6, rows)
    values[rng.random(rows) < 0.01] = np.nan
    return pa.table(
        {
            "ts": pa.array(ts),
            "k": pa.array(rng.integers(0, 300, rows), mask=rng.random(rows) < 0.05),
            "v": pa.array(values),
        }
    )


def same_bytes(a, b):
    """Equal tables, float columns bit for bit (``Table.equals`` says NaN != NaN)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name].combine_chunks(), b[name].combine_chunks()
        if pa.types.is_floating(x.type):
            if not x.is_null().equals(y.is_null()):
                return False
            bits = [np.asarray(v.fill_null(0).to_numpy()).view(np.uint64) for v in (x, y)]
            if not np.array_equal(*bits):
                return False
        elif not x.equals(y):
            return False
    return True


def log_bytes():
    # Several megabytes of real lines, so that a parse is cut into parts.
    return (LOGS / "apache_combined_10k.log").read_bytes() * 4


@pytest.mark.parametrize("threads", [2, 7])
def test_results_do_not_depend_on_the_thread_count(threads, restore_threads):
    table = big_table()
    aggs = ["count()", "sum(v)", "mean(v)", "var(v)", "first(v)", "last(v)", "median(v)"]
    jobs = {
        "tumbling": lambda: sash.window_agg(table, time="ts", every="1h", by="k", aggs=aggs),
        "hopping": lambda: sash.window_agg(table, time="ts", every="1h", period="3h", by="k", aggs=aggs, closed="right"),
        "parse": lambda: sash.parse(log_bytes(), format="combined"),
    }
    sash.set_threads(1)
    alone = {name: job() for name, job in jobs.items()}
    sash.set_threads(threads)
    for name, job in jobs.items():
        got = job()
        assert got.schema == alone[name].schema, name
        assert same_bytes(got, alone[name]), name


def test_many_python_threads_share_the_pool(restore_threads):
    table = big_table(300_000)
    sash.set_threads(2)
    expected = sash.window_agg(table, time="ts", every="1h", by="k", aggs=["sum(v)", "count()"])
    failures = []

    def work():
        for _ in range(4):
            got = sash.window_agg(table, time="ts", every="1h", by="k", aggs=["sum(v)", "count()"])
            if not same_bytes(got, expected):
                failures.append("differs")

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a caller hung"
    assert failures == []


def test_ctrl_c_stops_a_call_split_over_the_pool(restore_threads):
    # Python's check runs the interpreter's signal handlers, which only the
    # calling thread may do: the pool's tasks stop on a flag it sets.
    from test_bad_input import assert_interrupted_soon

    n = 1_000_000
    t = pa.table({"ts": pa.array(np.arange(n), pa.timestamp("s")), "v": np.random.default_rng(1).integers(0, 1000, n)})
    sash.set_threads(2)
    assert_interrupted_soon(lambda: sash.window_agg(t, time="ts", every="1s", period="60s", aggs=["count_distinct(v)"]))
    assert sash.window_agg(t.slice(0, 100), time="ts", every="1s", period="60s", aggs=["count_distinct(v)"]).num_rows == 159


def test_small_calls_start_no_thread():
    # The pool's workers start with the first call large enough to split:
    # a process of small calls never has more threads than its own.
    code = """
import os, numpy as np, pyarrow as pa, sash
def threads(): return len(os.listdir("/proc/self/task"))
sash.set_threads(4)
t = pa.table({"ts": pa.array(np.arange(1000), pa.timestamp("s")), "v": np.arange(1000.0)})
before = threads()
for _ in range(50):
    sash.window_agg(t, time="ts", every="10s", period="30s", aggs=["sum(v)"])
    sash.parse(b"1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \\"GET / HTTP/1.0\\" 200 2326\\n" * 100, format="common")
small = threads()
big = pa.table({"ts": pa.array(np.arange(2_000_000), pa.timestamp("s")), "v": np.arange(2_000_000.0)})
sash.window_agg(big, time="ts", every="10s", period="30s", aggs=["sum(v)"])
print(before, small, threads())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    before, small, after = map(int, out)
    assert small == before, f"small calls started {small - before} threads"
    assert after == before + 4, f"a large call started {after - before} threads, not the pool's 4"
