"""bench/unsorted.py on a small table: sash on shuffled rows agrees, in all four cases, with
every DuckDB and Polars formulation it is timed against (the harness checks
each result against the first, sash's), and the report names every case."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import gen_data  # noqa: E402
import unsorted  # noqa: E402


def test_sash_on_shuffled_rows_agrees_with_the_peers(tmp_path):
    path = gen_data.ensure_data(30_000, data_dir=tmp_path, quiet=True)
    table = unsorted.shuffled(gen_data.load_table(path))
    assert table.column("ts").to_pylist() != sorted(table.column("ts").to_pylist())
    timings = unsorted.run(table, repeats=1, log=lambda _: None)
    engines = {(t.case, t.engine) for t in timings}
    assert engines == {(c, e) for c in unsorted.CASES for e in ("sash", "duckdb", "polars")}
    report = unsorted.markdown(timings, table.num_rows)
    for case in unsorted.CASES:
        assert f"| {case} |" in report
