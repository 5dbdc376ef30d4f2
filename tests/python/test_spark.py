"""sash inside PySpark (local mode) through DataFrame.mapInArrow: the results
equal the single-process call when each key's rows are in one partition.

One Spark session for the module (~10 s to start); every job is small.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import sash

# pyspark 4.3 warns that it "does not yet fully support pandas >= 3"; this test
# uses Arrow paths only (createDataFrame(pyarrow.Table), mapInArrow, toArrow).
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "examples" / "data" / "apache_combined_10k.log"


def load_example():
    spec = importlib.util.spec_from_file_location("spark_window", ROOT / "examples" / "spark_window.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXAMPLE = load_example()


@pytest.fixture(scope="module")
def spark():
    session = EXAMPLE.spark_session()
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def data(n=20_000, keys=37, seed=3) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table({
        "id": pa.array(np.arange(n), pa.int64()),
        "ts": pa.array(np.sort(rng.integers(0, 6 * 3600 * 10**6, n)), pa.timestamp("us", "UTC")),
        "key": pa.array([f"k{k:02d}" for k in rng.integers(0, keys, n)]),
        "v": pa.array(np.where(rng.random(n) < 0.05, np.nan, rng.normal(100, 20, n)), from_pandas=True),
    })


WINDOW = dict(time="ts", every="10m", by="key",
              aggs={"n": "count()", "s": "sum(v)", "p90": "quantile(v, 0.9)", "last_id": "last(id)"})
WINDOW_SCHEMA = "key string, window_start timestamp, window_end timestamp, n long, s double, p90 double, last_id long"
SESSION = dict(time="ts", session_gap="3m", by="key", aggs={"n": "count()", "mx": "max(v)"})
SESSION_SCHEMA = "key string, window_start timestamp, window_end timestamp, n long, mx double"
ROLLING = dict(time="ts", period="15m", by="key", aggs={"n": "count()", "m": "mean(v)"})
ROLLING_SCHEMA = "id long, ts timestamp, key string, v double, n long, m double"


def per_partition(spec):
    def run(batches):
        table = pa.Table.from_batches(list(batches))
        if table.num_rows:
            fn = sash.rolling if "period" in spec and "every" not in spec else sash.window_agg
            yield from fn(table, **spec).to_batches()
    return run


def same(spark_result: pa.Table, local: pa.Table, sort_keys):
    spark_result = spark_result.cast(local.schema)
    a = spark_result.sort_by([(k, "ascending") for k in sort_keys])
    b = local.sort_by([(k, "ascending") for k in sort_keys])
    assert a.num_rows == b.num_rows
    for name in local.column_names:
        got, want = a.column(name).to_pylist(), b.column(name).to_pylist()
        # Exactly equal (NaN equal to NaN): each key's rows reach sash in the same order.
        np.testing.assert_array_equal(np.array(got, object if not pa.types.is_floating(local.schema.field(name).type) else float),
                                      np.array(want, object if not pa.types.is_floating(local.schema.field(name).type) else float),
                                      err_msg=name)


@pytest.mark.parametrize("spec,schema,sort_keys", [
    (WINDOW, WINDOW_SCHEMA, ["key", "window_start"]),
    (SESSION, SESSION_SCHEMA, ["key", "window_start"]),
    (ROLLING, ROLLING_SCHEMA, ["id"]),
], ids=["tumbling", "session", "rolling"])
def test_map_in_arrow_equals_single_process(spark, spec, schema, sort_keys):
    t = data()
    df = spark.createDataFrame(t)
    # Every key's rows in one partition (several keys per partition), in time order.
    df = df.repartition(4, "key").sortWithinPartitions("key", "ts", "id")
    assert df.rdd.getNumPartitions() == 4
    out = df.mapInArrow(per_partition(spec), schema).toArrow()
    local = (sash.rolling if spec is ROLLING else sash.window_agg)(t, **spec)
    same(out, local, sort_keys)


def test_spark_example_parse_then_window_equals_single_process(spark):
    out = EXAMPLE.run(spark, LOG).toArrow()
    local = sash.window_agg(sash.read_log(LOG, "combined").select(EXAMPLE.PARSED.names).cast(EXAMPLE.PARSED), **EXAMPLE.WINDOW)
    local = local.cast(pa.schema([f.with_type(pa.string()) if f.type == pa.string_view() else f for f in local.schema]))
    assert out.num_rows == local.num_rows > 1000
    same(out, local, ["path", "window_start"])
