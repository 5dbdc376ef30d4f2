#!/usr/bin/env python3
"""Independent oracle for the sash conformance corpus.

For every case in tests/conformance/windows/*.json this script recomputes the
expected result twice, independently of the Rust kernel:

1. a brute-force Python implementation of docs/semantics.md (enumerate the
   windows of every row, group, aggregate with plain Python / numpy), which
   also classifies errors into the corpus' error kinds;
2. DuckDB SQL (tumbling/hopping via generated window candidates on integer
   ticks, sessions via gaps-and-islands with LAG, rolling via a self-join on
   the frame condition), for every non-error case.

Usage:
    oracle.py --check            verify every case (default); exit 1 on any mismatch
    oracle.py --write            (re)compute "expected" of every non-error case
                                 from the brute force (after the DuckDB
                                 cross-check) and rewrite the files
    oracle.py --case NAME ...    restrict to some cases
    oracle.py --no-duckdb        skip the DuckDB cross-check

Run it with the project venv: .venv/bin/python tests/conformance/oracle.py
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CASE_DIR = HERE / "windows"

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
ERROR_KINDS = {
    "unknown_column", "wrong_type", "invalid_spec", "invalid_duration", "unknown_function",
    "invalid_expression", "null_time", "overflow", "invalid_input",
}
DEFAULT_RTOL, DEFAULT_ATOL = 1e-9, 1e-12

# How `last` breaks ties in time. The corpus pins "latest" (rows ordered by time,
# then input order; the last one wins). `--last-ties earliest` recomputes with the
# other reading of docs/semantics.md ("ties ... go to the earliest row in input
# order") to list the cases that depend on it.
LAST_TIES = "latest"
_TIME_COL = None


class OracleError(Exception):
    """A sash error, as the semantics classify it."""

    def __init__(self, kind: str, message: str):
        assert kind in ERROR_KINDS, kind
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


# ---------------------------------------------------------------- types

INT_BITS = {f"{s}int{b}": (b, s == "") for s in ("", "u") for b in (8, 16, 32, 64)}
TIME_UNITS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


class T:
    """A parsed type string."""

    def __init__(self, text: str):
        self.text = text.strip()
        t = self.text
        self.unit = self.tz = self.p = self.s = self.index = self.value = None
        if t in INT_BITS:
            self.cat = "int"
            self.bits, self.signed = INT_BITS[t]
        elif t in ("float32", "float64"):
            self.cat = "float"
        elif t == "bool":
            self.cat = "bool"
        elif t in ("utf8", "large_utf8", "utf8_view"):
            self.cat = "str"
        elif t == "binary":
            self.cat = "bin"
        elif t in ("date32", "date64"):
            self.cat = t
        elif m := re.fullmatch(r"timestamp\[(s|ms|us|ns)(?:,\s*([^\]]+))?\]", t):
            self.cat = "ts"
            self.unit, self.tz = m.group(1), m.group(2)
        elif m := re.fullmatch(r"decimal128\((\d+),\s*(\d+)\)", t):
            self.cat = "dec"
            self.p, self.s = int(m.group(1)), int(m.group(2))
        elif m := re.fullmatch(r"dictionary<(\w+),\s*(.+)>", t):
            self.cat = "dict"
            self.index, self.value = T(m.group(1)), T(m.group(2))
            assert self.index.cat == "int"
        else:
            raise ValueError(f"unknown type string {t!r}")

    def canonical(self) -> str:
        if self.cat == "ts":
            return f"timestamp[{self.unit}, {self.tz}]" if self.tz else f"timestamp[{self.unit}]"
        if self.cat == "dec":
            return f"decimal128({self.p}, {self.s})"
        if self.cat == "dict":
            return f"dictionary<{self.index.canonical()}, {self.value.canonical()}>"
        return self.text

    @property
    def base(self) -> "T":
        """The value type (dictionaries decoded)."""
        return self.value if self.cat == "dict" else self

    def is_integer(self):
        return self.cat == "int"

    def is_numeric(self):
        return self.cat in ("int", "float", "dec")

    def is_orderable(self):
        if self.cat == "dict":
            return self.value.is_orderable()
        return self.is_numeric() or self.cat in ("str", "bin", "bool", "date32", "date64", "ts")

    def is_key(self):
        # Float keys group -0.0 with 0.0 and NaNs together; not inside dictionaries.
        if self.cat == "dict":
            return self.value.cat in ("int", "str", "bin", "bool", "date32", "date64", "ts", "dec")
        return self.cat in ("int", "float", "dec", "str", "bin", "bool", "date32", "date64", "ts")

    def nanos_per_tick(self):
        if self.cat == "ts":
            return TIME_UNITS[self.unit]
        if self.cat == "date32":
            return 86_400 * 10**9
        if self.cat == "date64":
            return 10**6
        return None  # integer time

    def arrow(self):
        import pyarrow as pa

        if self.cat == "int":
            return getattr(pa, self.text)()
        if self.cat == "float":
            return getattr(pa, self.text)()
        if self.cat == "bool":
            return pa.bool_()
        if self.cat == "str":
            return {"utf8": pa.utf8(), "large_utf8": pa.large_utf8(), "utf8_view": pa.string_view()}[self.text]
        if self.cat == "bin":
            return pa.binary()
        if self.cat == "date32":
            return pa.date32()
        if self.cat == "date64":
            return pa.date64()
        if self.cat == "ts":
            return pa.timestamp(self.unit, tz=self.tz)
        if self.cat == "dec":
            return pa.decimal128(self.p, self.s)
        if self.cat == "dict":
            return pa.dictionary(self.index.arrow(), self.value.arrow())
        raise AssertionError(self.text)


def decode_value(t: T, v):
    """JSON value -> Python value of the semantics (floats, Decimals, ints, str, bytes, bool)."""
    if v is None:
        return None
    t = t.base
    if t.cat == "float":
        if isinstance(v, str):
            return {"NaN": math.nan, "inf": math.inf, "-inf": -math.inf}[v]
        return float(v)
    if t.cat == "dec":
        assert isinstance(v, str), v
        return Decimal(v)
    if t.cat == "bin":
        return v.encode()
    if t.cat == "bool":
        assert isinstance(v, bool)
        return v
    if t.cat in ("int", "date32", "date64", "ts"):
        assert isinstance(v, int) and not isinstance(v, bool), v
        if t.cat == "int":
            lo, hi = (-(2 ** (t.bits - 1)), 2 ** (t.bits - 1) - 1) if t.signed else (0, 2**t.bits - 1)
            assert lo <= v <= hi, f"{v} out of range for {t.text}"
        return v
    if t.cat == "str":
        assert isinstance(v, str)
        return v
    raise AssertionError(t.text)


def encode_value(t: T, v):
    """Python value -> JSON value of the corpus format."""
    if v is None:
        return None
    t = t.base
    if t.cat == "float":
        v = float(v)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return v
    if t.cat == "dec":
        return str(Decimal(v).quantize(Decimal(1).scaleb(-t.s)))
    if t.cat == "bin":
        return v.decode()
    return v


# ---------------------------------------------------------------- durations

_UNIT_NANOS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9,
               "h": 3600 * 10**9, "d": 86400 * 10**9, "w": 7 * 86400 * 10**9}


_UNIT_WORDS = {"nanosecond": "ns", "nsec": "ns", "microsecond": "us", "usec": "us", "millisecond": "ms", "msec": "ms",
               "second": "s", "sec": "s", "minute": "m", "min": "m", "hour": "h", "hr": "h", "day": "d", "week": "w"}


def _unit_nanos(unit):
    if unit in _UNIT_NANOS:
        return _UNIT_NANOS[unit]
    word = unit.lower()
    word = word[:-1] if word.endswith("s") else word
    return _UNIT_NANOS[_UNIT_WORDS[word]] if word in _UNIT_WORDS else None


def parse_duration(key, v):
    """-> ("count", n) or ("time", nanos)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        raise OracleError("invalid_spec", f"'{key}' must be a duration string or an integer")
    if isinstance(v, float):
        raise OracleError("invalid_duration", f"{v}")
    if isinstance(v, int):
        return ("count", v)
    text = v.strip()
    neg = text.startswith("-")
    body = text[1:] if neg else text
    sign = -1 if neg else 1
    if re.fullmatch(r"[0-9]+i?", body):
        return ("count", sign * int(body.rstrip("i")))
    # Parts: a number, optional spaces, a unit (a short one as written, or a
    # word in any case: "10 minutes", "1 Hour 30 min"), optional spaces.
    parts = re.findall(r"([0-9]+) *([^0-9 ]+) *", body)
    if not body or "".join(re.findall(r"[0-9]+ *[^0-9 ]+ *", body)) != body:
        raise OracleError("invalid_duration", v)
    total = 0
    for n, u in parts:
        nanos = _unit_nanos(u)
        if nanos is None:
            raise OracleError("invalid_duration", v)
        total += int(n) * nanos
    if total > I64_MAX:
        raise OracleError("invalid_duration", v)
    return ("time", sign * total)


def duration_ticks(d, time_type: T, raw):
    kind, n = d
    npt = time_type.nanos_per_tick()
    if npt is None:
        if kind != "count":
            raise OracleError("invalid_duration", f"{raw}: integer time takes integer durations")
        return n
    if kind == "count":
        raise OracleError("invalid_duration", f"{raw}: give a unit for a {time_type.text} column")
    if n % npt:
        raise OracleError("invalid_duration", f"{raw}: not a whole number of ticks")
    return n // npt


def is_positive(d):
    return d[1] > 0


# ---------------------------------------------------------------- aggregation grammar

FUNCS = {
    "count": "count", "sum": "sum", "mean": "mean", "avg": "mean", "min": "min", "max": "max",
    "first": "first", "last": "last", "var": "var", "variance": "var", "var_samp": "var",
    "std": "std", "stddev": "std", "stddev_samp": "std", "median": "median",
    "quantile": "quantile", "quantile_cont": "quantile", "count_distinct": "count_distinct",
    "n_unique": "count_distinct", "approx_count_distinct": "approx_count_distinct",
    "approx_quantile": "approx_quantile", "min_by": "min_by", "arg_min": "min_by",
    "max_by": "max_by", "arg_max": "max_by",
}


def _tokens(expr):
    out, i, n = [], 0, len(expr)
    bad = lambda why: OracleError("invalid_expression", f"{expr}: {why}")  # noqa: E731
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in "(),*":
            out.append(("p", c))
            i += 1
        elif c in "\"`":
            j, text = i + 1, ""
            while True:
                if j >= n:
                    raise bad("unterminated quote")
                if expr[j] == c:
                    if j + 1 < n and expr[j + 1] == c:
                        text += c
                        j += 2
                        continue
                    break
                text += expr[j]
                j += 1
            out.append(("name", text, True))
            i = j + 1
        elif c.isdigit() or c in ".-+":
            m = re.compile(r"[-+]?[0-9A-Za-z.]*(?:[eE][-+][0-9A-Za-z.]*)?").match(expr, i)
            out.append(("num", m.group(0)))
            i = m.end()
        elif c.isalnum() or c == "_":
            m = re.compile(r"[\w.]+").match(expr, i)
            out.append(("name", m.group(0), False))
            i = m.end()
        else:
            raise bad(f"unexpected {c!r}")
    return out


def quote_name(name):
    if name and (name[0].isalpha() or name[0] == "_") and all(ch.isalnum() or ch == "_" for ch in name):
        return name
    return '"' + name.replace('"', '""') + '"'


def parse_agg(expr):
    """-> dict(func, col, by, q, alias)."""
    bad = lambda why: OracleError("invalid_expression", f"{expr}: {why}")  # noqa: E731
    toks = _tokens(expr)
    if len(toks) < 2 or toks[0][0] != "name" or toks[0][2] or toks[1] != ("p", "("):
        raise bad("expected func(")
    fname = toks[0][1]
    i, args = 2, []
    while True:
        if i >= len(toks):
            raise bad("unterminated")
        tk = toks[i]
        if tk == ("p", ")") and not args:
            i += 1
            break
        if tk[0] == "name":
            args.append(("col", tk[1]))
        elif tk[0] == "num":
            args.append(("num", tk[1]))
        elif tk == ("p", "*"):
            args.append(("star",))
        else:
            raise bad("expected an argument")
        i += 1
        if i >= len(toks):
            raise bad("unterminated")
        if toks[i] == ("p", ","):
            i += 1
            continue
        if toks[i] == ("p", ")"):
            i += 1
            break
        raise bad("expected , or )")
    alias = None
    rest = toks[i:]
    if rest:
        if rest[0][0] == "name" and not rest[0][2] and rest[0][1].lower() == "as" and len(rest) == 2 and rest[1][0] == "name" and rest[1][1]:
            alias = rest[1][1]
        else:
            raise bad("trailing text")
    func = FUNCS.get(fname.lower())
    if func is None:
        raise OracleError("unknown_function", fname)
    col = by = q = qtext = None
    if func == "count":
        if args and args != [("star",)]:
            if len(args) != 1 or args[0][0] != "col":
                raise bad("count arity")
            col = args[0][1]
    elif func in ("quantile", "approx_quantile"):
        if len(args) != 2 or args[0][0] != "col" or args[1][0] != "num":
            raise bad("quantile args")
        qtext = args[1][1]
        try:
            q = float(qtext)
        except ValueError:
            raise bad("bad number") from None
        if not 0.0 <= q <= 1.0:
            raise bad("quantile out of [0, 1]")
        col = args[0][1]
    elif func in ("min_by", "max_by"):
        if len(args) != 2 or args[0][0] != "col" or args[1][0] != "col":
            raise bad("min_by args")
        col, by = args[0][1], args[1][1]
    else:
        if len(args) != 1 or args[0][0] != "col":
            raise bad("one column")
        col = args[0][1]
    if alias is None:
        parts = [quote_name(c) for c in (col, by) if c is not None] + ([qtext] if qtext else [])
        alias = f"{func}({', '.join(parts)})"
    return {"func": func, "col": col, "by": by, "q": q, "alias": alias}


# ---------------------------------------------------------------- spec

WINDOW_KEYS = {"time", "every", "period", "offset", "session_gap", "by", "aggs", "closed", "null_time"}
ROLLING_KEYS = {"time", "period", "by", "aggs", "closed", "null_time"}


def _str_key(spec, key):
    v = spec.get(key)
    if v is not None and not isinstance(v, str):
        raise OracleError("invalid_spec", f"'{key}' must be a string")
    return v


def _parse_common(spec, allowed):
    if not isinstance(spec, dict):
        raise OracleError("invalid_spec", "spec must be an object")
    for k in spec:
        if k not in allowed:
            raise OracleError("invalid_spec", f"unknown key {k}")
    time = _str_key(spec, "time")
    if time is None:
        raise OracleError("invalid_spec", "'time' is required")
    by = spec.get("by")
    if by is None:
        by = []
    elif isinstance(by, str):
        by = [by]
    elif isinstance(by, list) and all(isinstance(b, str) for b in by):
        by = list(by)
    else:
        raise OracleError("invalid_spec", "bad 'by'")
    aggs_v = spec.get("aggs")
    if aggs_v is None:
        raise OracleError("invalid_spec", "'aggs' is required")
    if isinstance(aggs_v, list):
        if not all(isinstance(a, str) for a in aggs_v):
            raise OracleError("invalid_spec", "aggs entries must be strings")
        aggs = [parse_agg(a) for a in aggs_v]
    elif isinstance(aggs_v, dict):
        aggs = []
        for alias, e in aggs_v.items():  # written order
            if not isinstance(e, str):
                raise OracleError("invalid_spec", "aggs values must be strings")
            a = parse_agg(e)
            a["alias"] = alias
            aggs.append(a)
    else:
        raise OracleError("invalid_spec", "bad 'aggs'")
    if not aggs:
        raise OracleError("invalid_spec", "'aggs' is empty")
    nt = _str_key(spec, "null_time") or "error"
    if nt not in ("error", "drop"):
        raise OracleError("invalid_spec", f"null_time {nt}")
    return time, by, aggs, nt


def _check_aliases(aggs, by, reserved):
    seen = list(by) + list(reserved)
    if len(set(by)) != len(by):
        raise OracleError("invalid_spec", "key listed twice")
    for a in aggs:
        if a["alias"] in seen:
            raise OracleError("invalid_spec", f"duplicate output {a['alias']}")
        seen.append(a["alias"])


def parse_window_spec(spec):
    time, by, aggs, nt = _parse_common(spec, WINDOW_KEYS)
    every = parse_duration("every", spec["every"]) if spec.get("every") is not None else None
    period = parse_duration("period", spec["period"]) if spec.get("period") is not None else None
    gap = parse_duration("session_gap", spec["session_gap"]) if spec.get("session_gap") is not None else None
    offset = parse_duration("offset", spec["offset"]) if spec.get("offset") is not None else None
    if gap is not None:
        if every is not None or period is not None:
            raise OracleError("invalid_spec", "session_gap with every/period")
        kind = "session"
    elif every is not None:
        kind = "hopping" if period is not None and period != every else "tumbling"
    elif period is not None:
        raise OracleError("invalid_spec", "'period' needs 'every'")
    else:
        raise OracleError("invalid_spec", "no window kind")
    closed = _str_key(spec, "closed")
    if closed is not None and closed not in ("left", "right", "both", "none"):
        raise OracleError("invalid_spec", f"closed {closed}")
    closed = closed or "left"
    if closed in ("both", "none"):
        raise OracleError("invalid_spec", "windows are closed left or right")
    if kind == "session":
        if closed != "left":
            raise OracleError("invalid_spec", "closed does not apply to sessions")
        if offset is not None:
            raise OracleError("invalid_spec", "offset does not apply to sessions")
        if not is_positive(gap):
            raise OracleError("invalid_spec", "session_gap must be positive")
    else:
        if not is_positive(every):
            raise OracleError("invalid_spec", "every must be positive")
        if period is not None and not is_positive(period):
            raise OracleError("invalid_spec", "period must be positive")
    _check_aliases(aggs, by, ["window_start", "window_end"])
    return dict(time=time, by=by, aggs=aggs, null_time=nt, kind=kind, every=every,
                period=period if period is not None else every, gap=gap, offset=offset, closed=closed,
                raw={k: spec.get(k) for k in ("every", "period", "session_gap", "offset")})


def parse_rolling_spec(spec):
    time, by, aggs, nt = _parse_common(spec, ROLLING_KEYS)
    pv = spec.get("period")
    if pv is None:
        raise OracleError("invalid_spec", "'period' is required")
    if isinstance(pv, str) and pv.strip().endswith("i"):
        d = parse_duration("period", pv)
        period = ("rows", d[1])
    else:
        period = ("time", parse_duration("period", pv))
    closed = _str_key(spec, "closed") or "right"
    if closed not in ("left", "right", "both", "none"):
        raise OracleError("invalid_spec", f"closed {closed}")
    n = period[1] if period[0] == "rows" else period[1][1]
    if n <= 0:
        raise OracleError("invalid_spec", "period must be positive")
    _check_aliases(aggs, [], [])
    return dict(time=time, by=by, aggs=aggs, null_time=nt, period=period, closed=closed, raw_period=pv)


# ---------------------------------------------------------------- input

def load_input(case):
    inp = case["input"]
    schema = [(f["name"], T(f["type"])) for f in inp["schema"]]
    names = [n for n, _ in schema]
    assert len(set(names)) == len(names), "duplicate input column"
    rows = []
    for b in inp["batches"]:
        cols = b["columns"]
        assert set(cols) == set(names), f"batch columns {sorted(cols)} != schema {names}"
        lens = {len(v) for v in cols.values()}
        assert len(lens) <= 1, "ragged batch"
        n = lens.pop() if lens else 0
        o, ln = b.get("slice", [0, n])
        assert 0 <= o and o + ln <= n
        for i in range(o, o + ln):
            rows.append({name: decode_value(t, cols[name][i]) for name, t in schema})
    for rid, r in enumerate(rows):
        r["__rid"] = rid
    return schema, rows


# ---------------------------------------------------------------- aggregation (brute force)

def fkey(x):
    """Total order for floats: NaN above +inf."""
    return (1, 0.0) if math.isnan(x) else (0, x)


def okey(t: T, v):
    """Sort key of a non-null value of type t."""
    t = t.base
    if t.cat == "float":
        return fkey(v)
    if t.cat == "str":
        return v.encode()
    return v


def quantile_exact(vals, q):
    """Linear interpolation over values sorted with NaN above +inf (numpy's default
    method on finite data). An exact position returns the value there; between
    an infinity and another value, the limit of the interpolation, as DuckDB's
    quantile_cont: -inf towards a number is -inf, a number towards +inf is +inf,
    -inf to +inf is NaN, and a NaN end is NaN."""
    xs = sorted(vals, key=fkey)
    n = len(xs)
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    t = pos - lo
    a, b = xs[lo], xs[hi]
    if all(math.isfinite(x) for x in xs):
        got = float(np.quantile(np.array(xs, dtype=np.float64), q, method="linear"))
        mine = a + (b - a) * t if t else a
        assert math.isclose(got, mine, rel_tol=1e-12, abs_tol=1e-12), (got, mine)
        return got

    def eq(x, y):
        return (math.isnan(x) and math.isnan(y)) or x == y

    if t == 0:
        # An exact position is that value, as in DuckDB's quantile_cont (numpy's
        # a + (b - a) * 0 would give NaN next to an infinity or a NaN).
        return a
    if math.isnan(a) or math.isnan(b) or (math.isinf(a) and math.isinf(b) and a != b):
        return math.nan
    if eq(a, b):
        return a
    if math.isinf(a):
        return a
    if math.isinf(b):
        return b
    # Both ends finite, some other value infinite: numpy's formula.
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def aggregate(agg, rows, types):
    """rows sorted by (time, input order)."""
    f, col = agg["func"], agg["col"]
    if f == "count":
        return len(rows) if col is None else sum(r[col] is not None for r in rows)
    t = types[col].base
    vals = [r[col] for r in rows if r[col] is not None]
    if f in ("count_distinct", "approx_count_distinct"):
        return len({("nan",) if isinstance(v, float) and math.isnan(v) else v for v in vals})
    if f in ("first", "last"):
        if not vals:
            return None
        if f == "last" and LAST_TIES == "earliest":
            nn = [r for r in rows if r[col] is not None]
            return next(r[col] for r in nn if r[_TIME_COL] == nn[-1][_TIME_COL])
        return vals[0] if f == "first" else vals[-1]
    if f in ("min_by", "max_by"):
        bt = types[agg["by"]]
        cand = [r for r in rows if r[agg["by"]] is not None]
        if not cand:
            return None
        # rows are in (time, input order): the first extreme row wins ties
        best = None
        for r in cand:
            k = okey(bt, r[agg["by"]])
            if best is None or (k < best[0] if f == "min_by" else k > best[0]):
                best = (k, r)
        return best[1][col]
    if not vals:
        return None
    if f in ("min", "max"):
        if t.cat == "float":
            nonnan = [v for v in vals if not math.isnan(v)]
            if f == "min":
                return min(nonnan) if nonnan else math.nan
            return math.nan if len(nonnan) < len(vals) else max(nonnan)
        return (min if f == "min" else max)(vals, key=lambda v: okey(t, v))
    if f == "sum":
        if t.cat == "int":
            s = sum(vals)
            if not I64_MIN <= s <= I64_MAX:
                raise OracleError("overflow", "sum overflows Int64")
            return s
        if t.cat == "dec":
            return sum(vals, Decimal(0))
        if all(math.isfinite(v) for v in vals):
            return math.fsum(vals)
        return _ieee_sum(vals)
    fv = [float(v) for v in vals]
    if f == "mean":
        if t.cat == "dec":
            return float(sum(vals, Decimal(0)) / len(vals))
        if all(math.isfinite(v) for v in fv):
            return math.fsum(fv) / len(fv)
        return _ieee_sum(fv) / len(fv)
    if f in ("var", "std"):
        if len(fv) < 2:
            return None
        if not all(math.isfinite(v) for v in fv):
            return math.nan
        var = statistics.variance(fv)
        return var if f == "var" else math.sqrt(var)
    if f in ("median", "quantile", "approx_quantile"):
        return quantile_exact(fv, 0.5 if f == "median" else agg["q"])
    raise AssertionError(f)


def _ieee_sum(vals):
    if any(math.isnan(v) for v in vals):
        return math.nan
    pos, neg = any(v == math.inf for v in vals), any(v == -math.inf for v in vals)
    if pos and neg:
        return math.nan
    return math.inf if pos else -math.inf


def agg_type(agg, types):
    f, col = agg["func"], agg["col"]
    if col is not None and col not in types:
        raise OracleError("unknown_column", col)
    if agg["by"] is not None:
        if agg["by"] not in types:
            raise OracleError("unknown_column", agg["by"])
        if not types[agg["by"]].is_orderable():
            raise OracleError("wrong_type", agg["by"])
    if f in ("count", "count_distinct", "approx_count_distinct"):
        return T("int64")
    t = types[col]
    if f in ("first", "last", "min_by", "max_by"):
        return t
    if f in ("min", "max"):
        if not t.is_orderable():
            raise OracleError("wrong_type", col)
        return t
    if not t.is_numeric():
        raise OracleError("wrong_type", col)
    if f == "sum":
        if t.cat == "float":
            return T("float64")
        if t.cat == "dec":
            return T(f"decimal128(38, {t.s})")
        return T("int64")
    return T("float64")


# ---------------------------------------------------------------- brute force

def fdiv(a, b):
    return a // b  # Python floors


def bind(case, parsed):
    global _TIME_COL
    _TIME_COL = parsed["time"]
    schema, rows = load_input(case)
    types = dict(schema)
    tname = parsed["time"]
    if tname not in types:
        raise OracleError("unknown_column", tname)
    tt = types[tname]
    if tt.cat not in ("ts", "date32", "date64") and not (tt.cat == "int" and tt.text in ("int32", "int64")):
        raise OracleError("wrong_type", tname)
    for k in parsed["by"]:
        if k not in types:
            raise OracleError("unknown_column", k)
        if not types[k].is_key():
            raise OracleError("wrong_type", k)
    out_types = [agg_type(a, types) for a in parsed["aggs"]]
    return schema, types, rows, tt, out_types


def drop_null_times(rows, tname, policy):
    nulls = sum(r[tname] is None for r in rows)
    if nulls and policy == "error":
        raise OracleError("null_time", f"{nulls} null times")
    return [r for r in rows if r[tname] is not None], nulls


def key_sort(types, by, key):
    out = []
    for k, v in zip(by, key):
        out.append((1, b"") if v is None else (0, okey(types[k], v)))
    return tuple(out)


def brute_window(case):
    p = parse_window_spec(case["spec"])
    schema, types, rows, tt, out_types = bind(case, p)
    tname, by = p["time"], p["by"]
    ticks = lambda name: duration_ticks(p[name], tt, p["raw"][name if name != "gap" else "session_gap"])  # noqa: E731
    if p["kind"] == "session":
        gap = ticks("gap")
    else:
        every = ticks("every")
        period = duration_ticks(p["period"], tt, p["raw"]["period"] or p["raw"]["every"])
        offset = ticks("offset") if p["offset"] is not None else 0
    rows, dropped = drop_null_times(rows, tname, p["null_time"])
    narrow = tt.text == "int32" or tt.cat == "date32"
    lo_t, hi_t = (-(2**31), 2**31 - 1) if narrow else (I64_MIN, I64_MAX)
    groups = {}
    if p["kind"] == "session":
        per_key = {}
        for r in sorted(rows, key=lambda r: (r[tname], r["__rid"])):
            per_key.setdefault(tuple(r[k] for k in by), []).append(r)
        for key, rs in per_key.items():
            sess = []
            for r in rs:
                if not sess or r[tname] >= sess[-1][-1][tname] + gap:
                    sess.append([])
                sess[-1].append(r)
            for s in sess:
                ws, we = s[0][tname], s[-1][tname] + gap
                groups[(key, ws, we)] = s
    else:
        for r in rows:
            t = r[tname]
            key = tuple(r[k] for k in by)
            for k in range(fdiv(t - offset - period, every) - 1, fdiv(t - offset, every) + 2):
                ws = offset + k * every
                we = ws + period
                inside = (ws <= t < we) if p["closed"] == "left" else (ws < t <= we)
                if inside:
                    groups.setdefault((key, ws, we), []).append(r)
    for (key, ws, we) in groups:
        if not (lo_t <= ws <= hi_t and lo_t <= we <= hi_t):
            raise OracleError("overflow", "window bound out of range")
    order = sorted(groups, key=lambda g: (g[1], key_sort(types, by, g[0]), g[2]))
    out_schema = [(k, types[k]) for k in by] + [("window_start", tt), ("window_end", tt)]
    out_schema += [(a["alias"], ot) for a, ot in zip(p["aggs"], out_types)]
    cols = {n: [] for n, _ in out_schema}
    for g in order:
        key, ws, we = g
        rs = sorted(groups[g], key=lambda r: (r[tname], r["__rid"]))
        for k, v in zip(by, key):
            cols[k].append(v)
        cols["window_start"].append(ws)
        cols["window_end"].append(we)
        for a in p["aggs"]:
            cols[a["alias"]].append(aggregate(a, rs, types))
    meta = {"sash.dropped_null_times": str(dropped)} if p["null_time"] == "drop" and dropped else None
    return out_schema, cols, meta


def brute_rolling(case):
    p = parse_rolling_spec(case["spec"])
    schema, types, rows, tt, out_types = bind(case, p)
    tname, by = p["time"], p["by"]
    if p["period"][0] == "time":
        per = duration_ticks(p["period"][1], tt, p["raw_period"])
    else:
        per = p["period"][1]
    rows, dropped = drop_null_times(rows, tname, p["null_time"])
    per_key = {}
    for r in sorted(rows, key=lambda r: (r[tname], r["__rid"])):
        per_key.setdefault(tuple(r[k] for k in by), []).append(r)
    pos = {}
    for rs in per_key.values():
        for i, r in enumerate(rs):
            pos[r["__rid"]] = i
    c = p["closed"]
    out_schema = list(schema) + [(a["alias"], ot) for a, ot in zip(p["aggs"], out_types)]
    cols = {n: [] for n, _ in out_schema}
    for r in rows:  # input order
        rs = per_key[tuple(r[k] for k in by)]
        t, i = r[tname], pos[r["__rid"]]
        if p["period"][0] == "time":
            lo_ok = (lambda s: s[tname] > t - per) if c in ("right", "none") else (lambda s: s[tname] >= t - per)
            hi_ok = (lambda s: s[tname] <= t) if c in ("right", "both") else (lambda s: s[tname] < t)
            win = [s for s in rs if lo_ok(s) and hi_ok(s)]
        else:
            n = per
            lo = {"right": i - n + 1, "left": i - n, "both": i - n, "none": i - n + 1}[c]
            hi = {"right": i, "left": i - 1, "both": i, "none": i - 1}[c]
            win = rs[max(lo, 0): hi + 1] if hi >= 0 else []
        for name, _ in schema:
            cols[name].append(r[name])
        for a in p["aggs"]:
            cols[a["alias"]].append(aggregate(a, win, types))
    meta = {"sash.dropped_null_times": str(dropped)} if p["null_time"] == "drop" and dropped else None
    return out_schema, cols, meta


def brute(case):
    if case["op"] == "window_agg":
        return brute_window(case)
    if case["op"] == "rolling":
        return brute_rolling(case)
    raise AssertionError(case["op"])


# ---------------------------------------------------------------- DuckDB cross-check

def _q(name):
    return '"' + name.replace('"', '""') + '"'


def duck_table(case):
    """An Arrow table for DuckDB: temporal columns as int64 ticks, dictionaries decoded,
    plus __rid (input order); built from real Arrow batches, sliced as the case says."""
    import pyarrow as pa

    inp = case["input"]
    schema = [(f["name"], T(f["type"])) for f in inp["schema"]]
    arrow_schema = pa.schema([pa.field(n, t.arrow()) for n, t in schema])
    batches = []
    for b in inp["batches"]:
        arrays = []
        for n, t in schema:
            vals = [decode_value(t, v) for v in b["columns"][n]]
            if t.cat == "dict":
                arr = pa.array(vals, type=t.value.arrow()).dictionary_encode()
                arr = arr.cast(t.arrow())
            else:
                arr = pa.array(vals, type=t.arrow() if t.cat not in ("date64",) else pa.int64())
                if t.cat == "date64":
                    arr = arr.cast(pa.date64())
            arrays.append(arr)
        rb = pa.RecordBatch.from_arrays(arrays, schema=arrow_schema)
        if "slice" in b:
            rb = rb.slice(*b["slice"])
        batches.append(rb)
    table = pa.Table.from_batches(batches, schema=arrow_schema)
    cols, fields = [], []
    for (n, t), col in zip(schema, table.columns):
        col = col.combine_chunks()
        if t.cat == "dict":
            col = col.cast(t.value.arrow())
        if t.base.cat == "str":
            col = col.cast(pa.utf8())
        if t.base.cat in ("ts", "date32", "date64"):
            col = col.cast(pa.int64()) if t.base.cat != "date32" else col.cast(pa.int32()).cast(pa.int64())
        cols.append(col)
        fields.append(n)
    cols.append(pa.array(range(table.num_rows), type=pa.int64()))
    fields.append("__rid")
    return pa.table(cols, names=fields)


def agg_sql(a, pre=""):
    f, c = a["func"], a["col"]
    col = pre + _q(c) if c else None
    nn = f"FILTER (WHERE {col} IS NOT NULL)" if c else ""
    t, rid = pre + "__t", pre + "__rid"
    if f == "count":
        return f"count({rid})" if c is None else f"count({col})"
    if f == "sum":
        return f"sum({col})"
    if f == "mean":
        return f"avg({col}::DOUBLE)"
    if f in ("min", "max"):
        return f"{f}({col})"
    if f == "first":
        return f"first({col} ORDER BY {t}, {rid}) {nn}"
    if f == "last":
        return f"first({col} ORDER BY {t} DESC, {rid} DESC) {nn}"
    if f == "var":
        return f"var_samp({col}::DOUBLE)"
    if f == "std":
        return f"stddev_samp({col}::DOUBLE)"
    if f == "median":
        return f"quantile_cont({col}::DOUBLE, 0.5)"
    if f in ("quantile", "approx_quantile"):
        return f"quantile_cont({col}::DOUBLE, {a['q']!r})"
    if f in ("count_distinct", "approx_count_distinct"):
        return f"count(DISTINCT {col})"
    if f in ("min_by", "max_by"):
        b = pre + _q(a["by"])
        d = "ASC" if f == "min_by" else "DESC"
        return f"first({col} ORDER BY {b} {d}, {t}, {rid}) FILTER (WHERE {b} IS NOT NULL)"
    raise AssertionError(f)


def _fdiv_sql(a, b):
    return f"((({a}) - (((({a}) % ({b})) + ({b})) % ({b}))) // ({b}))"


def duck_run(case):
    import duckdb

    tbl = duck_table(case)
    con = duckdb.connect()
    con.register("raw", tbl)
    op = case["op"]
    if op == "window_agg":
        p = parse_window_spec(case["spec"])
    else:
        p = parse_rolling_spec(case["spec"])
    types = {f["name"]: T(f["type"]) for f in case["input"]["schema"]}
    tt = types[p["time"]]
    con.execute(f"CREATE TABLE inp AS SELECT *, {_q(p['time'])}::BIGINT AS __t FROM raw WHERE {_q(p['time'])} IS NOT NULL")
    by = [_q(k) for k in p["by"]]
    part = f"PARTITION BY {', '.join(by)}" if by else ""
    aggs = [agg_sql(a) for a in p["aggs"]]
    if op == "window_agg":
        if p["kind"] == "session":
            gap = duration_ticks(p["gap"], tt, p["raw"]["session_gap"])
            cand = f"""
              s1 AS (SELECT *, lag(__t) OVER ({part} ORDER BY __t, __rid) AS __prev FROM inp),
              s2 AS (SELECT *, sum(CASE WHEN __prev IS NULL OR __t >= __prev + {gap} THEN 1 ELSE 0 END)
                        OVER ({part} ORDER BY __t, __rid ROWS UNBOUNDED PRECEDING) AS __sid FROM s1),
              cand AS (SELECT *, min(__t) OVER ({part}{',' if by else 'PARTITION BY'} __sid) AS __ws,
                                 max(__t) OVER ({part}{',' if by else 'PARTITION BY'} __sid) + {gap} AS __we FROM s2)"""
        else:
            every = duration_ticks(p["every"], tt, p["raw"]["every"])
            period = duration_ticks(p["period"], tt, p["raw"]["period"] or p["raw"]["every"])
            off = duration_ticks(p["offset"], tt, p["raw"]["offset"]) if p["offset"] is not None else 0
            lo = _fdiv_sql(f"__t::HUGEINT - {off} - {period}", every) + " - 1"
            hi = _fdiv_sql(f"__t::HUGEINT - {off}", every) + " + 2"
            cond = "__ws <= __t AND __t < __we" if p["closed"] == "left" else "__ws < __t AND __t <= __we"
            cand = f"""
              k AS (SELECT *, unnest(range(({lo})::BIGINT, ({hi})::BIGINT)) AS __k FROM inp),
              w AS (SELECT *, {off} + __k * {every} AS __ws, {off} + __k * {every} + {period} AS __we FROM k),
              cand AS (SELECT * FROM w WHERE {cond})"""
        keys_sel = "".join(f"{k}, " for k in by)
        order = ", ".join(["__ws"] + [f"{k} ASC NULLS LAST" for k in by] + ["__we"])
        sql = f"""WITH {cand}
            SELECT {keys_sel}__ws, __we{''.join(', ' + s for s in aggs)}
            FROM cand GROUP BY {keys_sel}__ws, __we ORDER BY {order}"""
        res = con.execute(sql).fetchall()
        names = list(p["by"]) + ["window_start", "window_end"] + [a["alias"] for a in p["aggs"]]
    else:
        per_kind, per = p["period"]
        c = p["closed"]
        if per_kind == "time":
            pt = duration_ticks(per, tt, p["raw_period"])
            lo = {"right": f"s.__t > r.__t - {pt}", "none": f"s.__t > r.__t - {pt}"}.get(c, f"s.__t >= r.__t - {pt}")
            hi = "s.__t <= r.__t" if c in ("right", "both") else "s.__t < r.__t"
        else:
            lo = {"right": f"s.__pos > r.__pos - {per}", "none": f"s.__pos > r.__pos - {per}"}.get(c, f"s.__pos >= r.__pos - {per}")
            hi = "s.__pos <= r.__pos" if c in ("right", "both") else "s.__pos < r.__pos"
        keyeq = "".join(f" AND s.{k} IS NOT DISTINCT FROM r.{k}" for k in by)
        saggs = [agg_sql(a, pre="s.") for a in p["aggs"]]
        sql = f"""WITH b AS (SELECT *, row_number() OVER ({part} ORDER BY __t, __rid) AS __pos FROM inp)
            SELECT r.__rid{''.join(', ' + s for s in saggs)}
            FROM b r LEFT JOIN b s ON {lo} AND {hi}{keyeq}
            GROUP BY r.__rid ORDER BY r.__rid"""
        agg_rows = con.execute(sql).fetchall()
        # input columns from the brute-force-independent Arrow table (null-time rows dropped)
        kept = con.execute("SELECT * EXCLUDE (__t) FROM inp ORDER BY __rid").fetchall()
        incols = [d for d in con.execute("SELECT * EXCLUDE (__t) FROM inp LIMIT 0").description]
        ncols = len(incols) - 1  # minus __rid
        res = [tuple(k[:ncols]) + tuple(a[1:]) for k, a in zip(kept, agg_rows)]
        names = [f["name"] for f in case["input"]["schema"]] + [a["alias"] for a in p["aggs"]]
    cols = {n: [row[i] for row in res] for i, n in enumerate(names)}
    return cols


# ---------------------------------------------------------------- comparison

def same(t: T, a, b, rtol=DEFAULT_RTOL):
    """a: brute/expected (decoded), b: other (decoded)."""
    if a is None or b is None:
        return a is None and b is None
    t = t.base
    if t.cat == "float":
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        if math.isinf(a) or math.isinf(b):
            return a == b
        return math.isclose(a, b, rel_tol=rtol, abs_tol=DEFAULT_ATOL)
    if t.cat == "dec":
        return Decimal(a) == Decimal(b)
    if t.cat == "int" and rtol != DEFAULT_RTOL:
        return math.isclose(a, b, rel_tol=rtol, abs_tol=0)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (bytes, bytearray)) or isinstance(b, (bytes, bytearray)):
        return isinstance(a, (bytes, bytearray)) and isinstance(b, (bytes, bytearray)) and bytes(a) == bytes(b)
    return a == b


def compare_cols(schema, want, got, tol=None, label=""):
    problems = []
    for name, t in schema:
        w, g = want.get(name), got.get(name)
        if g is None:
            problems.append(f"{label}: missing column {name}")
            continue
        if len(w) != len(g):
            problems.append(f"{label}: column {name}: {len(w)} rows vs {len(g)}")
            continue
        rtol = (tol or {}).get(name, DEFAULT_RTOL)
        for i, (x, y) in enumerate(zip(w, g)):
            if not same(t, x, y, rtol):
                problems.append(f"{label}: column {name} row {i}: {x!r} vs {y!r}")
    return problems


def encode_expected(out_schema, cols, meta, case):
    exp = {
        "schema": [{"name": n, "type": t.canonical()} for n, t in out_schema],
        "columns": {n: [encode_value(t, v) for v in cols[n]] for n, t in out_schema},
    }
    if meta:
        exp["metadata"] = meta
    tol = approx_tolerance(case, out_schema)
    if tol:
        exp["tolerance"] = tol
    return exp


def approx_tolerance(case, out_schema):
    prev = (case.get("expected") or {}).get("tolerance") or {}
    p = parse_window_spec(case["spec"]) if case["op"] == "window_agg" else parse_rolling_spec(case["spec"])
    tol = {}
    for a in p["aggs"]:
        if a["func"] == "approx_count_distinct":
            tol[a["alias"]] = prev.get(a["alias"], 0.02)
        elif a["func"] == "approx_quantile":
            tol[a["alias"]] = prev.get(a["alias"], 0.1)
    return tol


def decode_expected(exp):
    schema = [(f["name"], T(f["type"])) for f in exp["schema"]]
    cols = {n: [decode_value(t, v) for v in exp["columns"][n]] for n, t in schema}
    return schema, cols


# ---------------------------------------------------------------- JSON output

def dump(obj, indent=0):
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        flat = json.dumps(obj, ensure_ascii=False)
        if len(flat) + len(pad) <= 110 and not any(isinstance(v, (dict, list)) and v and len(json.dumps(v)) > 60 for v in obj.values()):
            return flat
        items = [f'{pad}  {json.dumps(k, ensure_ascii=False)}: {dump(v, indent + 1)}' for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        flat = json.dumps(obj, ensure_ascii=False)
        if all(not isinstance(v, (dict, list)) for v in obj) or len(flat) + len(pad) <= 110:
            return flat
        return "[\n" + ",\n".join(pad + "  " + dump(v, indent + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


# ---------------------------------------------------------------- driver

def check_case(case, use_duck=True, write=False):
    """Returns (problems, updated_case)."""
    name = case["name"]
    problems = []
    for key in ("name", "doc", "op", "input", "spec"):
        if key not in case:
            problems.append(f"{name}: missing '{key}'")
    if ("expected" in case) == ("error" in case) and not (write and "error" not in case):
        problems.append(f"{name}: needs exactly one of 'expected' and 'error'")
    if not re.fullmatch(r"[a-z0-9_]+", name):
        problems.append(f"{name}: name is not snake_case")
    try:
        result = brute(case)
        err = None
    except OracleError as e:
        result, err = None, e
    if "error" in case:
        duck_table(case)  # the input must still be valid Arrow data
        mc = case["error"].get("message_contains")
        if not isinstance(mc, list) or not all(isinstance(s, str) and s for s in mc):
            problems.append(f"{name}: message_contains must be a list of non-empty strings")
        want = case["error"]["kind"]
        if want not in ERROR_KINDS:
            problems.append(f"{name}: unknown error kind {want}")
        if err is None:
            problems.append(f"{name}: expected error {want}, the oracle computes a result")
        elif err.kind != want:
            problems.append(f"{name}: expected error {want}, the oracle says {err.kind} ({err.message})")
        return problems, case
    if err is not None:
        problems.append(f"{name}: the oracle raises {err}")
        return problems, case
    out_schema, cols, meta = result
    if use_duck:
        try:
            dcols = duck_run(case)
            tol = {a: v for a, v in approx_tolerance(case, out_schema).items()}
            problems += compare_cols(out_schema, cols, dcols, tol, f"{name} (brute vs duckdb)")
        except OracleError as e:
            problems.append(f"{name}: duckdb path raised {e}")
    if write:
        case = dict(case)
        case["expected"] = encode_expected(out_schema, cols, meta, case)
        return problems, case
    exp = case["expected"]
    want_schema = [(f["name"], f["type"]) for f in exp["schema"]]
    got_schema = [(n, t.canonical()) for n, t in out_schema]
    if [(n, T(t).canonical()) for n, t in want_schema] != got_schema:
        problems.append(f"{name}: schema {want_schema} vs oracle {got_schema}")
        return problems, case
    _, wcols = decode_expected(exp)
    if set(exp["columns"]) != {n for n, _ in out_schema}:
        problems.append(f"{name}: expected columns {sorted(exp['columns'])} vs schema")
    tol = exp.get("tolerance") or {}
    problems += compare_cols(out_schema, wcols, cols, tol, f"{name} (expected vs oracle)")
    if (exp.get("metadata") or None) != meta:
        problems.append(f"{name}: metadata {exp.get('metadata')} vs oracle {meta}")
    return problems, case


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="verify (default)")
    ap.add_argument("--write", action="store_true", help="recompute and rewrite 'expected'")
    ap.add_argument("--no-duckdb", action="store_true")
    ap.add_argument("--case", nargs="*", default=None)
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--last-ties", choices=["latest", "earliest"], default="latest",
                    help="how last() breaks ties in time (the corpus pins latest)")
    args = ap.parse_args(argv)
    global LAST_TIES
    LAST_TIES = args.last_ties
    return run_files(CASE_DIR, lambda case: check_case(case, use_duck=not args.no_duckdb, write=args.write),
                     write=args.write, only=args.case, verbose=args.verbose, what="cases")


def run_files(case_dir, check, *, write, only, verbose, what):
    """Checks (or rewrites) every case of every file under `case_dir` with
    `check(case) -> (problems, new case)`; prints the problems and a summary;
    returns the exit status. Names must be unique across the files."""
    files = sorted(case_dir.glob("*.json"))
    all_problems, names, total = [], set(), 0
    for path in files:
        doc = json.loads(path.read_text())
        assert set(doc) == {"cases"}, path
        new_cases, changed = [], False
        for case in doc["cases"]:
            if case["name"] in names:
                all_problems.append(f"{case['name']}: duplicate case name")
            names.add(case["name"])
            if only is not None and case["name"] not in only:
                new_cases.append(case)
                continue
            total += 1
            try:
                problems, new = check(case)
            except Exception as e:  # a bug in a case or in the oracle
                problems, new = [f"{case['name']}: oracle crashed: {type(e).__name__}: {e}"], case
            if verbose:
                print(f"{path.name}: {case['name']}: {'ok' if not problems else 'FAIL'}")
            all_problems += problems
            changed |= new is not case
            new_cases.append(new)
        if write and changed:
            path.write_text(dump({"cases": new_cases}) + "\n")
    for p in all_problems:
        print("MISMATCH", p)
    print(f"{total} {what} in {len(files)} files: {'OK' if not all_problems else f'{len(all_problems)} problem(s)'}")
    return 1 if all_problems else 0


if __name__ == "__main__":
    sys.exit(main())
