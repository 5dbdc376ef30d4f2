"""The shared conformance corpus (tests/conformance/, format in its README) as pyarrow data.

Reads every case of ``tests/conformance/windows/*.json`` unchanged, builds the
input record batches and the expected table with pyarrow, and compares a
result with the expectation the way the README says.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

CORPUS = Path(__file__).resolve().parents[1] / "conformance"

_SIMPLE = {
    "int8": pa.int8(), "int16": pa.int16(), "int32": pa.int32(), "int64": pa.int64(),
    "uint8": pa.uint8(), "uint16": pa.uint16(), "uint32": pa.uint32(), "uint64": pa.uint64(),
    "float32": pa.float32(), "float64": pa.float64(), "bool": pa.bool_(),
    "utf8": pa.string(), "large_utf8": pa.large_string(), "utf8_view": pa.string_view(),
    "binary": pa.binary(), "date32": pa.date32(), "date64": pa.date64(),
}


def parse_type(text: str) -> pa.DataType:
    t = text.strip()
    if t in _SIMPLE:
        return _SIMPLE[t]
    if t.startswith("timestamp[") and t.endswith("]"):
        unit, _, tz = t[len("timestamp["):-1].partition(",")
        return pa.timestamp(unit.strip(), tz=tz.strip() or None)
    if t.startswith("decimal128(") and t.endswith(")"):
        p, s = t[len("decimal128("):-1].split(",")
        return pa.decimal128(int(p), int(s))
    if t.startswith("dictionary<") and t.endswith(">"):
        k, v = t[len("dictionary<"):-1].split(",", 1)
        return pa.dictionary(parse_type(k), parse_type(v))
    raise ValueError(f"unknown type {text!r}")


def _float(v):
    if v is None:
        return None
    if isinstance(v, str):
        return {"NaN": math.nan, "nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}[v]
    return float(v)


def build_array(typ: pa.DataType, values: list) -> pa.Array:
    if pa.types.is_floating(typ):
        return pa.array([_float(v) for v in values], typ)
    if pa.types.is_date32(typ):
        return pa.array(values, pa.int32()).cast(typ)
    if pa.types.is_date64(typ):
        return pa.array(values, pa.int64()).cast(typ)
    if pa.types.is_binary(typ):
        return pa.array([None if v is None else v.encode() for v in values], typ)
    if pa.types.is_decimal(typ):
        return pa.array([None if v is None else Decimal(v) for v in values], typ)
    if pa.types.is_dictionary(typ):
        uniq = list(dict.fromkeys(v for v in values if v is not None))
        idx = [None if v is None else uniq.index(v) for v in values]
        return pa.DictionaryArray.from_arrays(pa.array(idx, typ.index_type), build_array(typ.value_type, uniq))
    return pa.array(values, typ)


def parse_schema(fields: list) -> pa.Schema:
    return pa.schema([pa.field(f["name"], parse_type(f["type"])) for f in fields])


def build_batch(schema: pa.Schema, columns: dict) -> pa.RecordBatch:
    return pa.record_batch([build_array(f.type, columns[f.name]) for f in schema], schema=schema)


@dataclass
class Case:
    file: str
    name: str
    op: str
    schema: pa.Schema
    batches: list[pa.RecordBatch]
    spec: dict
    expected: pa.Table | None = None
    metadata: dict = field(default_factory=dict)
    tolerance: dict = field(default_factory=dict)
    error: dict | None = None

    def reader(self) -> pa.RecordBatchReader:
        """The input as one Arrow stream: batch order, slices and empty batches kept."""
        return pa.RecordBatchReader.from_batches(self.schema, self.batches)


def parse_case(file: str, case: dict) -> Case:
    schema = parse_schema(case["input"]["schema"])
    batches = []
    for b in case["input"]["batches"]:
        batch = build_batch(schema, b["columns"])
        if "slice" in b:
            batch = batch.slice(*b["slice"])
        batches.append(batch)
    out = Case(file, case["name"], case.get("op", "window_agg"), schema, batches, case["spec"])
    if "error" in case:
        out.error = {"kind": case["error"]["kind"], "message_contains": case["error"].get("message_contains", [])}
    else:
        e = case["expected"]
        eschema = parse_schema(e["schema"])
        out.expected = pa.Table.from_batches([build_batch(eschema, e["columns"])], eschema)
        out.metadata = e.get("metadata", {})
        out.tolerance = e.get("tolerance", {})
    return out


def load(subdir: str = "windows") -> list[Case]:
    cases = []
    for path in sorted((CORPUS / subdir).glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            cases.append(parse_case(path.name, case))
    return cases


def _decoded(col: pa.ChunkedArray) -> pa.Array:
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    return arr


def _close(got: float, want: float, rtol: float) -> bool:
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if math.isinf(got) or math.isinf(want):
        return got == want
    return abs(got - want) <= max(rtol * max(abs(got), abs(want)), 1e-12)


def compare(got: pa.Table, case: Case) -> None:
    """Raises AssertionError saying what differs between a result and the case's expectation."""
    want = case.expected
    got_fields = [(f.name, f.type) for f in got.schema]
    want_fields = [(f.name, f.type) for f in want.schema]
    assert got_fields == want_fields, f"schema differs:\n  got  {got_fields}\n  want {want_fields}"
    meta = {k.decode(): v.decode() for k, v in (got.schema.metadata or {}).items()}
    for k, v in case.metadata.items():
        assert meta.get(k) == v, f"metadata {k}: got {meta.get(k)!r}, want {v!r}"
    assert got.num_rows == want.num_rows, f"got {got.num_rows} rows, want {want.num_rows}\n{got.to_pydict()}"
    for f in want.schema:
        g, w = _decoded(got.column(f.name)), _decoded(want.column(f.name))
        rtol = case.tolerance.get(f.name)
        if pa.types.is_floating(f.type) or rtol is not None:
            rtol = 1e-9 if rtol is None else rtol
            for r, (x, y) in enumerate(zip(g.to_pylist(), w.to_pylist())):
                ok = (x is None and y is None) or (x is not None and y is not None and _close(float(x), float(y), rtol))
                assert ok, f"column {f.name!r} row {r}: got {x!r}, want {y!r}"
        else:
            assert g.equals(w), f"column {f.name!r} differs:\n  got  {g.to_pylist()}\n  want {w.to_pylist()}"


@dataclass
class StreamStep:
    """One step of a stream case: action is push, advance, finish, take_late or restore."""

    action: str
    arg: object
    expected: Case | None  # the emission as a Case to `compare` with (None: restore, or an error)
    error: dict | None
    stats: dict | None


@dataclass
class StreamCase:
    file: str
    name: str
    op: str
    schema: pa.Schema
    batches: list[pa.RecordBatch]
    spec: dict
    steps: list[StreamStep]


STREAM_ACTIONS = ("push", "advance", "finish", "take_late", "restore")


def load_streams() -> list[StreamCase]:
    """Every stream case (streams/*.json; format in the corpus README)."""
    cases = []
    for path in sorted((CORPUS / "streams").glob("*.json")):
        for case in json.loads(path.read_text())["cases"]:
            base = parse_case(path.name, {**case, "expected": {"schema": [], "columns": {}}})
            steps = []
            for step in case["steps"]:
                (action,) = [a for a in STREAM_ACTIONS if a in step]
                expected = error = None
                if "error" in step:
                    error = {"kind": step["error"]["kind"], "message_contains": step["error"].get("message_contains", [])}
                elif "expected" in step:
                    expected = parse_case(path.name, {**case, "expected": step["expected"]})
                steps.append(StreamStep(action, step[action], expected, error, step.get("stats")))
            cases.append(StreamCase(path.name, case["name"], case["op"], base.schema, base.batches, case["spec"], steps))
    return cases
