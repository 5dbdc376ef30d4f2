"""The shared conformance corpus, unchanged, through sash.window_agg and sash.rolling.

Each case's spec is passed verbatim as keyword arguments (its keys are the
keyword names); the input is one Arrow stream holding the case's batches in
order (slices and empty batches kept).
"""
import json

import pytest

import sash
from corpus import CORPUS, compare, load

CASES = load("windows")

ERROR_CLASSES = {
    "unknown_column": sash.UnknownColumnError,
    "wrong_type": sash.WrongTypeError,
    "invalid_spec": sash.InvalidSpecError,
    "invalid_duration": sash.InvalidDurationError,
    "unknown_function": sash.UnknownFunctionError,
    "invalid_expression": sash.InvalidExpressionError,
    "null_time": sash.NullTimeError,
    "overflow": sash.SashOverflowError,
    "invalid_input": sash.InvalidInputError,
}
BUILTINS = {"wrong_type": TypeError, "overflow": OverflowError}


def run(case):
    fn = {"window_agg": sash.window_agg, "rolling": sash.rolling}[case.op]
    return fn(case.reader(), **case.spec)


def test_corpus_is_whole():
    files = sorted((CORPUS / "windows").glob("*.json"))
    assert len(CASES) == sum(len(json.loads(p.read_text())["cases"]) for p in files) > 200
    assert len({c.name for c in CASES}) == len(CASES)
    assert {c.op for c in CASES} == {"window_agg", "rolling"}


@pytest.mark.parametrize("case", [c for c in CASES if c.error is None], ids=lambda c: c.name)
def test_case(case):
    compare(run(case), case)


@pytest.mark.parametrize("case", [c for c in CASES if c.error is not None], ids=lambda c: c.name)
def test_error_case(case):
    kind = case.error["kind"]
    with pytest.raises(sash.SashError) as info:
        run(case)
    err = info.value
    assert type(err) is ERROR_CLASSES[kind], f"{type(err).__name__}: {err}"
    assert err.kind == kind
    assert isinstance(err, BUILTINS.get(kind, ValueError))
    for text in case.error["message_contains"]:
        assert text in str(err), f"{text!r} not in {str(err)!r}"
