"""examples/quickstart.py (`make demo`): runs on the bundled log, and its numbers
agree with the same report computed with pyarrow alone."""
import importlib.util
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

import sash

ROOT = Path(__file__).resolve().parents[2]
LOG = ROOT / "examples" / "data" / "apache_combined_10k.log"


def load_quickstart():
    spec = importlib.util.spec_from_file_location("quickstart", ROOT / "examples" / "quickstart.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_log_is_the_test_log():
    assert LOG.read_bytes() == (ROOT / "tests" / "data" / "logs" / "apache_combined_10k.log").read_bytes()


def test_quickstart_report_agrees_with_pyarrow(tmp_path, capsys):
    report = load_quickstart().main([str(LOG), "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert "1 with a parse error" in printed and "line 8899" in printed
    png = tmp_path / "requests_per_minute.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert (tmp_path / "windows_10m.csv").exists()

    # The same numbers with pyarrow's group_by on a 10-minute floor of the time.
    logs = sash.read_log(LOG, "combined")
    status = logs.column("status")
    t = pa.table({
        "w": pc.floor_temporal(logs.column("timestamp"), 10, "minute"),
        "path": pc.cast(logs.column("path"), pa.string()),
        "size": logs.column("size"),
        "is_4xx": pc.cast(pc.and_(pc.greater_equal(status, 400), pc.less(status, 500)), pa.int8()),
        "is_5xx": pc.cast(pc.greater_equal(status, 500), pa.int8()),
    })
    want = t.group_by("w").aggregate([
        ([], "count_all"), ("is_4xx", "mean"), ("is_5xx", "mean"),
    ]).sort_by("w")
    assert report.column("window_start").to_pylist() == want.column("w").to_pylist()
    assert report.column("requests").to_pylist() == want.column("count_all").to_pylist()
    assert sum(report.column("requests").to_pylist()) == 10_000
    assert report.column("rate_4xx").to_pylist() == want.column("is_4xx_mean").to_pylist()
    assert report.column("rate_5xx").to_pylist() == want.column("is_5xx_mean").to_pylist()

    # p95 size: numpy's linear interpolation on each window's non-null sizes.
    import numpy as np

    rows = report.to_pylist()
    d = t.to_pydict()
    by_window: dict = {}
    for w, p, s in zip(d["w"], d["path"], d["size"]):
        entry = by_window.setdefault(w, ([], {}))
        if s is not None:
            entry[0].append(s)
        entry[1][p] = entry[1].get(p, 0) + 1
    for r in rows:
        sizes, paths = by_window[r["window_start"]]
        assert abs(r["p95_size"] - float(np.quantile(sizes, 0.95))) < 1e-6 * max(1.0, r["p95_size"])
        top = max(paths.values())
        assert r["busiest_hits"] == top
        assert paths[r["busiest_path"]] == top
