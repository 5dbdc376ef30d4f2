"""sash inside PySpark: parse a log and aggregate per key on every executor.

    .venv/bin/python examples/spark_window.py [LOG]

Spark (local mode here; the same code runs on a cluster) distributes the
rows, sash does the per-partition work through ``DataFrame.mapInArrow``: each
Python worker receives pyarrow RecordBatches and hands them to sash without
copying.

1. ``spark.read.text`` splits the log into lines; ``mapInArrow`` runs
   ``sash.parse`` on each partition's lines (parsing is per line, so any
   partitioning works).
2. ``repartition("path")`` puts every row of one path into one partition;
   ``sortWithinPartitions`` is not needed by sash (it orders by time itself)
   but keeps the input deterministic. ``mapInArrow`` then runs
   ``sash.window_agg(by="path")`` on each partition: since no key spans two
   partitions, the union of the partitions' results is exactly the
   single-process result.

Threads: Spark already runs one task per core, each in its own Python
worker, so each task runs sash on one thread: the Spark setting
``spark.sash.threads`` (default 1; as in the JVM's SashSpark) is read where
the job is built and handed to the partition functions.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa

import sash

HERE = Path(__file__).resolve().parent

# What the window step computes, shared by the Spark job and the single-process check.
WINDOW = dict(time="timestamp", every="1h", by="path", null_time="drop",
              aggs={"requests": "count()", "bytes": "sum(size)", "p95_size": "quantile(size, 0.95)"})


# Spark has no unsigned integers: status (UInt16) and size (UInt64) become signed.
PARSED = pa.schema([("timestamp", pa.timestamp("us", "UTC")), ("host", pa.string()), ("method", pa.string()),
                    ("path", pa.string()), ("status", pa.int32()), ("size", pa.int64())])


def parse_partition(batches, threads=1):
    """mapInArrow function: raw lines (column ``value``) -> parsed access-log rows."""
    sash.set_threads(threads)
    for batch in batches:
        out = sash.parse(batch.column("value"), "combined", strings="utf8")
        yield from out.select(PARSED.names).cast(PARSED).to_batches()


def window_partition(batches, threads=1):
    """mapInArrow function: all of a partition's rows -> sash.window_agg per path."""
    sash.set_threads(threads)
    table = pa.Table.from_batches(list(batches))
    if table.num_rows == 0:
        return
    out = sash.window_agg(table, **WINDOW)
    yield from out.to_batches()


def spark_session():
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    return (SparkSession.builder.master("local[2]").appName("sash")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate())


def run(spark, log: Path):
    threads = int(spark.conf.get("spark.sash.threads", "1"))
    lines = spark.read.text(str(log))
    parsed = lines.mapInArrow(
        lambda batches: parse_partition(batches, threads),
        "timestamp timestamp, host string, method string, path string, status int, size long",
    )
    windows = (parsed.repartition("path").sortWithinPartitions("path", "timestamp")
               .mapInArrow(lambda batches: window_partition(batches, threads),
                           "path string, window_start timestamp, window_end timestamp, "
                           "requests long, bytes long, p95_size double"))
    return windows


def main(argv):
    log = Path(argv[0]) if argv else HERE / "data" / "apache_combined_10k.log"
    spark = spark_session()
    spark.sparkContext.setLogLevel("ERROR")
    try:
        windows = run(spark, log)
        top = windows.orderBy("requests", ascending=False).limit(10).toArrow()
        print("Busiest (path, hour) pairs, computed by sash on Spark executors:")
        for r in top.to_pylist():
            print(f"  {r['window_start']:%Y-%m-%d %H:%M}  {r['requests']:>3} requests  {r['bytes']:>10,} bytes  {r['path']}")
        # The same on one process, for comparison.
        local = sash.window_agg(sash.read_log(log, "combined").select(PARSED.names).cast(PARSED), **WINDOW)
        print(f"\nSpark: {windows.count()} (path, hour) rows; single process: {local.num_rows} rows")
    finally:
        spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
