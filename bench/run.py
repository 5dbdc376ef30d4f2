#!/usr/bin/env python3
"""`make bench`: sash against DuckDB, Polars and pandas on the same data, in one run.

What
    1. Makes sure the data exists (bench/gen_data.py; 10M rows by default).
    2. Runs the Rust benchmark binary from the repo root:
           cargo bench -p sash-core --bench kernels -- --data <abs path>
       and reads its JSON lines (protocol below).
    3. Peak memory: for each case, runs the built binary once more with
           --data <abs path> --case <case> --once
       and takes that process's peak RSS (os.wait4 -> ru_maxrss). The
       executable is located with `cargo bench ... --no-run
       --message-format=json` and run directly, so cargo's and rustc's memory
       never count. Prints "peak - baseline vs input + output" and the overhead.
    4. Python binding (issue #4): the same cases called through the wheel
       (bench/python_cases.py), with the kernel timed alone in the same
       process; reports the binding's overhead (≤ 5% on 10M rows, ≤ 5 µs on
       a one-row batch). Skipped with --skip-python or when sash is not
       installed in the venv (`make bench` installs it).
    5. Times the peers on the same file (bench/peers.py; single-threaded:
       DuckDB threads=1, POLARS_MAX_THREADS=1), fastest correct formulation
       per engine.
    6. Prints a markdown table (rows/s = input rows / best seconds) and writes
       it with machine info and details to bench/results.md, plus a log-scale
       bar chart bench/results.png.

How
    .venv/bin/python bench/run.py                      # what `make bench` runs
    .venv/bin/python bench/run.py --rows 100000        # quick run
    .venv/bin/python bench/run.py --skip-rust          # peers only
    .venv/bin/python bench/run.py --cases tumbling,session --no-write

Rust binary protocol (stdout; anything that is not a JSON object is ignored)
    One JSON object per line. A line with "case" reports a case:
        {"case": "tumbling", "rows": 10000000, "seconds": 0.05,
         "output_rows": 1666543, "output_bytes": 66661720}
      required: case (one of tumbling, hopping, rolling, session),
                rows (int, input rows), seconds (float > 0, best wall time,
                load excluded, full output materialized)
      optional: output_rows (int), output_bytes (int: sum of the output
                arrays' buffer sizes), threads (int), and the memory fields
                below. Several lines for one case: the fastest is kept, the
                other lines fill in fields it lacks.
    A JSON line without "case" carries run-wide fields, e.g.
        {"baseline_rss_bytes": 2400000, "loaded_rss_bytes": 203000000}
      baseline_rss_bytes: the process RSS before loading data;
      loaded_rss_bytes: RSS after loading it. Either may also sit on the
      case line. In --once mode (one iteration of --case <name>) the binary
      must print the case line with output_bytes and both RSS fields.
    Arguments: --data <path> (Arrow IPC file), optionally --case <name>
    --once; the binary must ignore the `--bench` flag cargo bench appends.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("POLARS_MAX_THREADS", "1")  # before peers imports polars
os.environ.setdefault("SASH_MAX_THREADS", "1")  # single-threaded comparisons (bench/threads.py scales)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import gen_data  # noqa: E402

CASES = ("tumbling", "hopping", "rolling", "session")
CARGO = os.environ.get("CARGO", "cargo")
CARGO_BENCH = [CARGO, "bench", "-p", "sash-core", "--bench", "kernels"]
# case -> (peer engine the target is against, required factor)
TARGETS = {"tumbling": ("duckdb", 10.0), "hopping": ("duckdb", 10.0),
           "rolling": ("polars", 10.0), "session": ("duckdb", 10.0)}
ENGINE_LABEL = {"sash": "sash", "sash_py": "sash (Python)", "duckdb": "DuckDB", "polars": "Polars",
                "pandas": "pandas"}
MEM_FIELDS = ("output_bytes", "baseline_rss_bytes", "loaded_rss_bytes", "kernel_peak_rss_bytes")


# --------------------------------------------------------------------------- #
# Rust output                                                                 #
# --------------------------------------------------------------------------- #
@dataclass
class RustOutput:
    cases: dict[str, dict] = field(default_factory=dict)  # case -> fastest record
    meta: dict = field(default_factory=dict)              # fields of lines without "case"

    def get(self, case: str, key: str):
        """A field of a case's record, else the run-wide value, else None."""
        rec = self.cases.get(case, {})
        return rec[key] if key in rec else self.meta.get(key)


STATE_CASES = {"stream_snapshot"}


def parse_rust_output(text: str) -> RustOutput:
    """Parse the benchmark binary's stdout (see the module doc for the protocol).

    Non-JSON lines (cargo chatter, human-readable summaries) are skipped. A
    case line missing ``rows`` or ``seconds``, or with a non-positive
    ``seconds``, is an error: a silently dropped case would look like a
    missing feature rather than a broken benchmark.
    """
    out = RustOutput()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        if "case" not in obj:
            out.meta.update(obj)
            continue
        case = obj["case"]
        # The snapshot measurement counts states, not rows.
        required = (("seconds", (int, float)),) if case in STATE_CASES else (("rows", int), ("seconds", (int, float)))
        for k, typ in required:
            if not isinstance(obj.get(k), typ) or isinstance(obj.get(k), bool):
                raise ValueError(f"rust output line {lineno}: case {case!r} needs a numeric {k!r}: {line}")
        if obj["seconds"] <= 0:
            raise ValueError(f"rust output line {lineno}: seconds must be > 0: {line}")
        prev = out.cases.get(case)
        if prev is None:
            out.cases[case] = dict(obj)
        elif obj["seconds"] < prev["seconds"]:
            out.cases[case] = {**prev, **obj}
        else:
            out.cases[case] = {**obj, **prev}
    return out


def locate_bench_executable() -> Path | None:
    """Build (if needed) and return the kernels bench executable, via cargo's JSON messages."""
    cmd = CARGO_BENCH + ["--no-run", "--message-format=json-render-diagnostics"]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        return None
    exe = None
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            continue
        tgt = msg.get("target", {})
        if (msg.get("reason") == "compiler-artifact" and tgt.get("name") == "kernels"
                and "bench" in tgt.get("kind", []) and msg.get("executable")):
            exe = Path(msg["executable"])
    return exe


def run_rust_bench(data: Path) -> RustOutput:
    cmd = CARGO_BENCH + ["--", "--data", str(data)]
    print(f"run: {shlex.join(cmd)}", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"run: the Rust benchmark failed (exit {proc.returncode})")
    return parse_rust_output(proc.stdout)


def run_once_peak_rss(exe: Path, data: Path, case: str) -> tuple[int, RustOutput]:
    """Run one iteration of `case`; return (peak RSS bytes of that process, its output)."""
    cmd = [str(exe), "--data", str(data), "--case", case, "--once"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    stdout = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)  # keep Popen from waiting again
    if proc.returncode != 0:
        raise SystemExit(f"run: {shlex.join(cmd)} failed (exit {proc.returncode})")
    return usage.ru_maxrss * 1024, parse_rust_output(stdout)  # Linux: ru_maxrss in KiB


@dataclass
class MemCheck:
    case: str
    peak: int
    baseline: int | None
    loaded: int | None
    input_bytes: int
    output_bytes: int | None

    @property
    def used(self) -> int | None:
        return None if self.baseline is None else self.peak - self.baseline

    @property
    def expected(self) -> int | None:
        return None if self.output_bytes is None else self.input_bytes + self.output_bytes

    @property
    def overhead_pct(self) -> float | None:
        if self.used is None or not self.expected:
            return None
        return 100.0 * (self.used - self.expected) / self.expected

    def line(self) -> str:
        if self.used is None or self.expected is None:
            return (f"{self.case}: peak RSS {mb(self.peak)}; binary did not report "
                    f"baseline_rss_bytes/output_bytes, no check")
        return (f"{self.case}: peak - baseline = {mb(self.used)} vs input + output = "
                f"{mb(self.expected)} ({mb(self.input_bytes)} + {mb(self.output_bytes)}): "
                f"overhead {self.overhead_pct:+.1f}%")


def memory_checks(exe: Path, data: Path, cases, input_bytes: int) -> list[MemCheck]:
    checks = []
    for case in cases:
        peak, out = run_once_peak_rss(exe, data, case)
        # The binary resets the peak after loading the data, so this peak
        # belongs to the kernel (loading an IPC file has its own, higher peak).
        kernel_peak = out.get(case, "kernel_peak_rss_bytes")
        if kernel_peak:
            peak = kernel_peak
        checks.append(MemCheck(case, peak, out.get(case, "baseline_rss_bytes"),
                               out.get(case, "loaded_rss_bytes"), input_bytes,
                               out.get(case, "output_bytes")))
        print("memory: " + checks[-1].line(), flush=True)
    return checks


# --------------------------------------------------------------------------- #
# report                                                                      #
# --------------------------------------------------------------------------- #
def mb(n: float | None) -> str:
    return "—" if n is None else f"{n / 1e6:,.1f} MB"


def fmt_rate(r: float | None) -> str:
    return "—" if r is None else f"{r / 1e6:,.2f} M"


def fmt_ratio(a: float | None, b: float | None) -> str:
    return "—" if a is None or b is None else f"{a / b:,.2f}×"


def rates_by_case(rust: RustOutput | None, peer_best, cases) -> dict[str, dict[str, float | None]]:
    """case -> engine -> rows/s (None when not measured)."""
    rates: dict[str, dict[str, float | None]] = {}
    for case in cases:
        r = {e: None for e in ENGINE_LABEL}
        if rust is not None and case in rust.cases:
            rec = rust.cases[case]
            r["sash"] = rec["rows"] / rec["seconds"]
        for e in ("duckdb", "polars", "pandas"):
            if (case, e) in peer_best:
                r[e] = peer_best[(case, e)].rows_per_s
        rates[case] = r
    return rates


def results_table(rates: dict[str, dict[str, float | None]]) -> str:
    head = ("| case | sash rows/s | DuckDB rows/s | Polars rows/s | pandas rows/s "
            "| sash/DuckDB | sash/Polars | target | met? |")
    lines = [head, "|---|--:|--:|--:|--:|--:|--:|---|---|"]
    for case, r in rates.items():
        peer, factor = TARGETS[case]
        if r["sash"] is None or r[peer] is None:
            met = "n/a"
        else:
            met = "yes" if r["sash"] >= factor * r[peer] else "no"
        lines.append(
            f"| {case} | {fmt_rate(r['sash'])} | {fmt_rate(r['duckdb'])} | {fmt_rate(r['polars'])} "
            f"| {fmt_rate(r['pandas'])} | {fmt_ratio(r['sash'], r['duckdb'])} "
            f"| {fmt_ratio(r['sash'], r['polars'])} | ≥{factor:g}× {ENGINE_LABEL[peer]} | {met} |")
    return "\n".join(lines)


def floor_md(floor: dict | None, rates: dict[str, dict[str, float | None]]) -> str | None:
    """What the Rust benchmark's `rolling_floor` (the least the rolling case's
    semantics cost on this machine) allows: the best ratio to Polars that any
    implementation could show. None without the floor or the peer."""
    rolling = rates.get("rolling", {})
    if floor is None or rolling.get("polars") is None:
        return None
    floor_rate = floor["rows"] / floor["seconds"]
    cap = floor_rate / rolling["polars"]
    factor = TARGETS["rolling"][1]
    text = (f"A bare sweep doing only what the rolling case's semantics ask of each row (enter its key's "
            f"compensated running sum, leave it 5 minutes later, write the mean and its validity bit into "
            f"fresh output), with the keys already group ids and nothing checked "
            f"(`rolling_floor` in core/benches/kernels.rs): {floor['seconds']:.4f} s, "
            f"{fmt_rate(floor_rate)} rows/s. No implementation of these semantics can beat it, so against "
            f"Polars none can show more than **{cap:.1f}×** here (target ≥{factor:g}×)")
    if rolling.get("sash") is not None:
        text += f"; the kernel runs at {rolling['sash'] / floor_rate:.2f} of the floor's speed."
    else:
        text += "."
    return text


def streaming_md(cases: dict[str, dict]) -> str | None:
    """Streaming against batch: each case's `stream_<case>_<rows>` (the rows
    pushed into a WindowStream, or a RollingStream, in pushes of that many
    rows) as a share of the batch call's throughput on the same rows; then
    the state figures (`stream_snapshot`, `stream_rss_100m`) when present.
    None without the stream cases."""
    rows = []
    for case in ("tumbling", "hopping", "rolling", "session"):
        batch = cases.get(case)
        streams = {n: cases.get(f"stream_{case}_{n}") for n in (8192, 1000)}
        if batch is None or streams[8192] is None:
            continue
        share = {n: (s["rows"] / s["seconds"]) / (batch["rows"] / batch["seconds"]) for n, s in streams.items() if s}
        met = "yes" if share[8192] >= 0.70 else "**no**"
        calls = cases.get(f"calls_{case}_8192")
        floor = f"{fmt_rate(calls['rows'] / calls['seconds'])} ({(calls['rows'] / calls['seconds']) / (batch['rows'] / batch['seconds']):.0%})" if calls else "–"
        rows.append(f"| {case} | {fmt_rate(batch['rows'] / batch['seconds'])} | "
                    f"{fmt_rate(streams[8192]['rows'] / streams[8192]['seconds'])} ({share[8192]:.0%}) | "
                    + (f"{fmt_rate(streams[1000]['rows'] / streams[1000]['seconds'])} ({share[1000]:.0%})" if 1000 in share else "–")
                    + f" | {floor} | {met} |")
    if not rows:
        return None
    lines = [
        "The same rows pushed into a `WindowStream` (`RollingStream` for rolling) of the same spec (sorted input, "
        "lateness 0), then `finish()`: rows/s and the share of the batch call's rows/s (target: ≥ 70% at 8,192-row pushes). "
        "The floor column is the batch kernel called on each 8,192-row push alone, keeping nothing between calls "
        "(its windows are the pushes' pieces): what calls of a push's size cost before any state is kept.",
        "",
        "| case | batch rows/s | pushes of 8,192 | pushes of 1,000 | batch kernel per 8,192 rows (floor) | ≥ 70% at 8,192 |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
    snap = cases.get("stream_snapshot")
    if snap:
        ratio = snap["snapshot_bytes"] / snap["state_bytes"] if snap["state_bytes"] else float("nan")
        met = "yes" if min(snap["snapshot_mb_per_s"], snap["restore_mb_per_s"]) >= 500 and ratio <= 1.5 else "**no**"
        lines += [
            "",
            f"State: a stream holding {snap['open_states']:,} open (key, window) states (the tumbling case's "
            f"aggregations): snapshot {snap['snapshot_bytes'] / 1e6:.1f} MB in {snap['snapshot_seconds']:.3f} s "
            f"({snap['snapshot_mb_per_s']:.0f} MB/s), restore in {snap['restore_seconds']:.3f} s "
            f"({snap['restore_mb_per_s']:.0f} MB/s); the snapshot is {ratio:.2f}× the state it holds "
            f"(target: ≥ 500 MB/s each way, ≤ 1.5×): {met}.",
        ]
    rss = cases.get("stream_rss_100m")
    if rss:
        over = rss["peak_over_baseline_bytes"]
        lines += [
            "",
            f"Memory: {rss['rows'] / 1e6:.0f}M rows streamed through the tumbling case in pushes of 8,192 "
            f"({fmt_rate(rss['rows_per_s'])} rows/s, rows made as they are pushed): peak RSS "
            f"{over / 2**20:.1f} MiB over the process's before the stream (target: ≤ 64 MB): "
            + ("yes." if over <= 64 * 2**20 else "**no**."),
        ]
    return "\n".join(lines)


def exact_sum_md(exact: dict | None, tumbling_seconds: float | None) -> str | None:
    """What the Rust benchmark's `exact_sum_floor` says an exactly rounded
    float sum would add to the tumbling case (the architecture issue makes it
    the default only at ≤ 10%). None without the measurement or the case."""
    if exact is None or tumbling_seconds is None:
        return None
    share = exact["seconds"] / tumbling_seconds
    verdict = "within" if share <= 0.10 else "above"
    return (f"An exactly rounded float sum in every window's state (an `i128` fixed point widened to the "
            f"whole double range only when a window needs it; `exact_sum_floor` in core/benches/kernels.rs, "
            f"checked against Shewchuk's `fsum` on all {exact['windows']:,} windows) takes "
            f"{exact['exact_seconds']:.4f} s for the tumbling case's {exact['rows']:,} adds where double "
            f"adds take {exact['plain_seconds']:.4f} s: at least {exact['seconds']:.4f} s more, "
            f"**+{share:.0%}** of the tumbling case's {tumbling_seconds:.4f} s, {verdict} the 10% a "
            f"default may cost. Float sums therefore stay double precision; docs/semantics.md says "
            f"which results may differ in the last bits across splits.")


def machine_info() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip() or "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    except OSError:
        commit = "unknown"
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "commit": commit,
        "load": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "load_start": f"{LOAD_AT_START[0]:.2f}",
    }


def write_markdown(path: Path, table_md: str, info: dict, rows: int, data: Path,
                   timings, mem: list[MemCheck], rust: RustOutput | None, versions: str,
                   python_md: str | None = None, floor_text: str | None = None,
                   exact_sum_text: str | None = None, streaming_text: str | None = None) -> None:
    out = [
        "# sash benchmark results",
        "",
        "Output of the last `make bench` (`bench/run.py`); regenerate, don't edit.",
        "",
        f"- date: {info['date']}; commit {info['commit']}",
        f"- machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['memory']} RAM, {info['os']}; "
        f"1-min load average {info['load_start']} at start; 1/5/15-min {info['load']} at the end "
        "(well above 1 means other work shared the CPUs: timings are then pessimistic)",
        f"- data: `{data.relative_to(ROOT) if data.is_relative_to(ROOT) else data}`, "
        f"{rows:,} rows (bench/gen_data.py, seed {gen_data.SEED})",
        f"- peers: {versions}; single-threaded (DuckDB `threads=1`, `POLARS_MAX_THREADS=1`); "
        "best of 3, load excluded, full result materialized; fastest checked formulation",
        f"- sash: {'not run (--skip-rust)' if rust is None else 'cargo bench -p sash-core --bench kernels'}"
        + (f", threads {rust.meta['threads']}" if rust is not None and "threads" in rust.meta else ""),
        "",
        "rows/s = input rows / best wall time.",
        "",
        table_md,
        "",
    ]
    if floor_text:
        out += ["## The rolling floor", "", floor_text, ""]
    if exact_sum_text:
        out += ["## An exactly rounded float sum", "", exact_sum_text, ""]
    if streaming_text:
        out += ["## Streaming (WindowStream) against batch", "", streaming_text, ""]
    if python_md:
        out += ["## Python binding (the same cases through the wheel)", "",
                "Python call: `sash.window_agg(table, **spec)` / `sash.rolling` on the in-memory table, "
                "result exported to a `pyarrow.Table`; kernel in-process: the Rust kernel alone on the "
                "same imported batches (`sash._sash._kernel_seconds`); overhead = call − kernel. "
                "One row: mean per call over 20,000 calls (best of 5). Targets: ≤ 5% on the full table, "
                "≤ 5 µs on one row. For scale, the last column is what pyarrow alone spends handing the "
                "same one-row result over (export as a C `ArrowArray`, import against a kept schema, "
                "`Table.from_batches`): part of every call that returns a `pyarrow.Table`.", "", python_md, ""]
    if mem:
        out += ["## Peak memory (sash, one iteration, `--once`)", "",
                "| case | peak RSS | baseline RSS | loaded RSS | peak − baseline | input + output | overhead |",
                "|---|--:|--:|--:|--:|--:|--:|"]
        for m in mem:
            ov = "—" if m.overhead_pct is None else f"{m.overhead_pct:+.1f}%"
            out.append(f"| {m.case} | {mb(m.peak)} | {mb(m.baseline)} | {mb(m.loaded)} "
                       f"| {mb(m.used)} | {mb(m.expected)} | {ov} |")
        out.append("")
    out += ["## Peer formulations", "",
            "| case | engine | formulation | best s | runs s | rows/s | output rows |",
            "|---|---|---|--:|---|--:|--:|"]
    for t in timings:
        runs = ", ".join(f"{x:.3f}" for x in t.runs)
        out.append(f"| {t.case} | {ENGINE_LABEL[t.engine]} | {t.formulation} | {t.seconds:.3f} "
                   f"| {runs} | {fmt_rate(t.rows_per_s)} | {t.output_rows:,} |")
    out += ["",
            "All formulations of a case were checked to give the same result "
            "(exact keys, times and counts; floats to 1e-9).",
            "Polars hopping uses `offset=\"-4m\"` so windows that start before a key's first row are "
            "kept; DuckDB rolling uses `RANGE INTERVAL 299999 ms PRECEDING`, which on whole-ms data "
            "is sash's `(t − 5 min, t]`.", ""]
    path.write_text("\n".join(out))


def write_chart(path: Path, rates: dict[str, dict[str, float | None]], title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = [e for e in ENGINE_LABEL if any(r.get(e) is not None for r in rates.values())]
    cases = list(rates)
    width = 0.8 / max(len(engines), 1)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, e in enumerate(engines):
        xs = [c + (i - (len(engines) - 1) / 2) * width for c in range(len(cases))]
        ys = [rates[c].get(e) or 0 for c in cases]
        bars = ax.bar(xs, ys, width, label=ENGINE_LABEL[e])
        for b, y in zip(bars, ys):
            if y:
                ax.annotate(f"{y / 1e6:.3g}M", (b.get_x() + b.get_width() / 2, y),
                            ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(cases)), cases)
    ax.set_ylabel("input rows / s (log)")
    ax.set_title(title, fontsize=10)
    ax.legend()
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------- #
LOAD_AT_START = os.getloadavg()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=gen_data.DEFAULT_ROWS, help="rows of data (default 10M)")
    ap.add_argument("--skip-rust", action="store_true", help="peers only")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of " + ",".join(CASES))
    ap.add_argument("--repeats", type=int, default=3, help="peer runs per formulation (best is kept)")
    ap.add_argument("--no-check", action="store_true", help="skip the peer agreement checks")
    ap.add_argument("--no-memory", action="store_true", help="skip the sash peak-memory runs")
    ap.add_argument("--no-write", action="store_true", help="don't write bench/results.md/.png")
    ap.add_argument("--skip-python", action="store_true", help="skip the cases through the Python wheel")
    args = ap.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown or not cases:
        ap.error(f"unknown cases {sorted(unknown)}; known: {', '.join(CASES)}")

    data = gen_data.ensure_data(args.rows).resolve()
    table = gen_data.load_table(data)
    input_bytes = table.nbytes

    rust: RustOutput | None = None
    floor: dict | None = None
    exact_sum: dict | None = None
    streaming_text: str | None = None
    tumbling_seconds: float | None = None
    mem: list[MemCheck] = []
    if not args.skip_rust:
        rust = run_rust_bench(data)
        missing = [c for c in cases if c not in rust.cases]
        if missing:
            print(f"run: warning: the Rust benchmark reported no {', '.join(missing)}", file=sys.stderr)
        floor = rust.cases.get("rolling_floor")
        exact_sum = rust.cases.get("exact_sum_floor")
        streaming_text = streaming_md(rust.cases)
        tumbling_seconds = rust.cases.get("tumbling", {}).get("seconds")
        rust.cases = {c: r for c, r in rust.cases.items() if c in cases}
        if not args.no_memory:
            exe = locate_bench_executable()
            if exe is None:
                print("run: warning: could not locate the kernels bench executable; "
                      "no memory check", file=sys.stderr)
            else:
                mem = memory_checks(exe, data, [c for c in cases if c in rust.cases], input_bytes)

    py_results, py_streams = [], []
    if not args.skip_python:
        try:
            import sash  # noqa: F401
        except ImportError:
            print("run: warning: the sash wheel is not installed in this venv (make bench installs it); "
                  "no Python cases", file=sys.stderr)
        else:
            import python_cases
            py_results = python_cases.run(table, cases, log=lambda s: print(s, flush=True))
            py_streams = python_cases.run_streams(table, cases, log=lambda s: print(s, flush=True))

    import duckdb
    import pandas as pd
    import polars as pl
    import peers

    versions = f"DuckDB {duckdb.__version__}, Polars {pl.__version__}, pandas {pd.__version__}"
    print(f"peers: {table.num_rows:,} rows; {versions}; single-threaded", flush=True)
    timings = peers.run_peers(table, cases, repeats=args.repeats, check=not args.no_check,
                              log=lambda s: print(s, flush=True))
    del table
    rates = rates_by_case(rust, peers.best_by_engine(timings), cases)
    for r in py_results:
        rates[r.case]["sash_py"] = r.rows / r.python_s
    table_md = results_table(rates)
    print()
    print(table_md)
    floor_text = floor_md(floor, rates)
    if floor_text:
        print()
        print(floor_text)
    exact_sum_text = exact_sum_md(exact_sum, tumbling_seconds)
    for text in (exact_sum_text, streaming_text):
        if text:
            print()
            print(text)
    python_md = None
    if py_results:
        rust_s = {c: rec["seconds"] for c, rec in rust.cases.items()} if rust is not None else None
        python_md = python_cases.table_md(py_results, rust_s)
        if py_streams:
            python_md += "\n\n" + python_cases.stream_table_md(py_streams)
        print()
        print(python_md)
    if mem:
        print()
        for m in mem:
            print("memory: " + m.line())

    if not args.no_write:
        info = machine_info()
        write_markdown(HERE / "results.md", table_md, info, args.rows, data, timings, mem, rust, versions,
                       python_md, floor_text, exact_sum_text, streaming_text)
        write_chart(HERE / "results.png", rates,
                    f"sash vs peers, {args.rows:,} rows, single-threaded peers "
                    f"({info['nproc']} CPUs, {info['date']})")
        print(f"\nwrote {HERE / 'results.md'} and {HERE / 'results.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
