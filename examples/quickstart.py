"""sash quickstart: a real Apache access log, parsed and summarised per 10 minutes.

    make demo                      # builds the wheel into .venv, then runs this
    python examples/quickstart.py [LOG] [--all] [--out DIR]

1. ``sash.read_log`` parses the log into typed Arrow columns (one row per
   line; a line that does not parse keeps the fields read before the problem
   and says why in ``_error``).
2. ``sash.window_agg`` computes, per 10-minute window: requests (``count()``),
   the 4xx and 5xx rates (``mean`` of 0/1 columns derived with pyarrow),
   the 95th percentile response size (``quantile(size, 0.95)``), and the
   busiest path: a count per (window, path), then ``max_by(path, n)`` over
   those counts, per window.
3. A PNG chart of requests per minute (``window_agg(every="1m")``) and the
   whole 10-minute table as CSV go to ``examples/out/``.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

import sash

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def main(argv: list[str]) -> pa.Table:
    argv = list(argv)
    out = OUT
    if "--out" in argv:
        i = argv.index("--out")
        out = Path(argv[i + 1])
        del argv[i:i + 2]
    show_all = "--all" in argv
    args = [a for a in argv if not a.startswith("--")]
    log = Path(args[0]) if args else HERE / "data" / "apache_combined_10k.log"
    out.mkdir(parents=True, exist_ok=True)

    # 1. Parse ---------------------------------------------------------------
    # (The first call into pyarrow's C stream import loads pyarrow's pandas
    # shim, ~0.3 s once per process: do it before timing.)
    sash.parse([], "combined")
    t0 = time.perf_counter()
    logs = sash.read_log(log, "combined")
    t_parse = time.perf_counter() - t0
    errors = logs.column("_error")
    failed = len(errors) - errors.null_count
    print(f"sash {sash.__version__}: parsed {logs.num_rows:,} lines of {log.name} in {t_parse * 1000:.1f} ms "
          f"({log.stat().st_size / t_parse / 1e6:.0f} MB/s), {failed} with a parse error")
    if failed:
        bad = pc.indices_nonzero(pc.is_valid(errors))
        for i in bad.to_pylist()[:3]:
            print(f"  line {i + 1}: {errors[i].as_py()}  (its fields before the problem are kept)")

    # 0/1 columns for the rates: the kernel averages them per window.
    status = logs.column("status")
    logs = logs.append_column("is_4xx", pc.cast(pc.and_(pc.greater_equal(status, 400), pc.less(status, 500)), pa.int8()))
    logs = logs.append_column("is_5xx", pc.cast(pc.greater_equal(status, 500), pa.int8()))

    # 2. Per 10-minute window -------------------------------------------------
    t0 = time.perf_counter()
    windows = sash.window_agg(
        logs, time="timestamp", every="10m", null_time="drop",
        aggs={
            "requests": "count()",
            "rate_4xx": "mean(is_4xx)",
            "rate_5xx": "mean(is_5xx)",
            "p95_size": "quantile(size, 0.95)",
        },
    )
    per_path = sash.window_agg(logs, time="timestamp", every="10m", by="path", null_time="drop", aggs={"n": "count()"})
    busiest = sash.window_agg(
        per_path, time="window_start", every="10m",
        aggs={"busiest_path": "max_by(path, n)", "busiest_hits": "max(n)"},
    )
    t_windows = time.perf_counter() - t0
    # Same window grid in both results: join on window_start.
    # (Acero's join cannot carry string_view columns yet: the one path per window becomes a plain string.)
    busiest = busiest.select(["window_start", "busiest_path", "busiest_hits"])
    busiest = busiest.set_column(1, "busiest_path", pc.cast(busiest.column("busiest_path"), pa.string()))
    report = windows.join(busiest, "window_start").sort_by("window_start")
    pacsv.write_csv(report, out / "windows_10m.csv")

    print(f"\n{report.num_rows} ten-minute windows (window kernels: {t_windows * 1000:.1f} ms)\n")
    print_table(report if show_all else report.slice(0, 24))
    if not show_all and report.num_rows > 24:
        print(f"... {report.num_rows - 24} more windows (--all prints them; all in {out / 'windows_10m.csv'})")

    top = report.sort_by([("requests", "descending")]).slice(0, 5)
    print("\nBusiest windows:")
    print_table(top)
    total_5xx = pc.sum(logs.column("is_5xx")).as_py()
    total_4xx = pc.sum(logs.column("is_4xx")).as_py()
    print(f"\nOverall: {logs.num_rows:,} requests, 4xx {total_4xx / logs.num_rows:.2%}, 5xx {total_5xx / logs.num_rows:.2%}")

    # 3. Requests per minute chart -------------------------------------------
    per_minute = sash.window_agg(logs, time="timestamp", every="1m", null_time="drop", aggs={"requests": "count()"})
    png = out / "requests_per_minute.png"
    chart(per_minute, png)
    print(f"Chart of requests per minute ({per_minute.num_rows:,} non-empty minutes): {png}")
    if per_minute.num_rows == report.num_rows:
        print("(This log's requests come in one burst a minute long per hour, so every non-empty\n"
              " 10-minute window holds a single busy minute.)")
    return report


def print_table(t: pa.Table) -> None:
    header = f"{'window (UTC)':<17} {'requests':>8} {'4xx':>6} {'5xx':>6} {'p95 size':>10}  busiest path (hits)"
    print(header)
    print("-" * len(header))
    for r in t.to_pylist():
        path = r["busiest_path"] or "-"
        if len(path) > 48:
            path = path[:45] + "..."
        p95 = "-" if r["p95_size"] is None else f"{r['p95_size']:,.0f}"
        print(f"{r['window_start']:%Y-%m-%d %H:%M} {r['requests']:>8,} {r['rate_4xx']:>6.1%} {r['rate_5xx']:>6.1%} "
              f"{p95:>10}  {path} ({r['busiest_hits']})")


def chart(per_minute: pa.Table, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 4), dpi=110)
    # Minutes without requests are absent from window_agg's output: draw each
    # non-empty minute as a stem so gaps stay gaps.
    ax.stem(per_minute.column("window_start").to_pylist(), per_minute.column("requests").to_pylist(), basefmt=" ")
    ax.set_title("Requests per minute (sash.window_agg every='1m' on sash.read_log output)")
    ax.set_ylabel("requests / minute")
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1:])
