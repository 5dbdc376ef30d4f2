"""The shared conformance corpus, unchanged, through sash.window_agg and sash.rolling.

Each case's spec is passed verbatim as keyword arguments (its keys are the
keyword names); the input is one Arrow stream holding the case's batches in
order (slices and empty batches kept).
"""
import json
import pickle

import pytest

import sash
from corpus import CORPUS, compare, load, load_streams

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


STREAMS = load_streams()


def test_stream_corpus_is_whole():
    files = sorted((CORPUS / "streams").glob("*.json"))
    assert len(STREAMS) == sum(len(json.loads(p.read_text())["cases"]) for p in files) >= 30
    assert {c.op for c in STREAMS} == {"window_stream", "rolling_stream"}


@pytest.mark.parametrize("case", STREAMS, ids=lambda c: c.name)
def test_stream_case(case):
    """Every step of a stream case, through sash.WindowStream / sash.RollingStream.

    `restore` goes through pickle (which is the snapshot) every other time, so
    both routes are run by the corpus."""
    cls = {"window_stream": sash.WindowStream, "rolling_stream": sash.RollingStream}[case.op]
    stream = cls(**case.spec)
    restores = 0
    for i, step in enumerate(case.steps):
        where = f"step {i} ({step.action})"
        if step.action == "restore":
            restores += 1
            stream = pickle.loads(pickle.dumps(stream)) if restores % 2 else cls.restore(stream.snapshot())
            continue
        call = {
            "push": lambda: stream.push(case.batches[step.arg]),
            "advance": lambda: stream.advance(step.arg),
            "finish": stream.finish,
            "take_late": stream.take_late,
        }[step.action]
        if step.error is not None:
            with pytest.raises(sash.SashError) as info:
                call()
            assert info.value.kind == step.error["kind"], f"{where}: {info.value}"
            for text in step.error["message_contains"]:
                assert text in str(info.value), f"{where}: {text!r} not in {str(info.value)!r}"
        else:
            got = call()
            try:
                compare(got, step.expected)
            except AssertionError as e:
                raise AssertionError(f"{where}: {e}") from None
        if step.stats is not None:
            got_stats = {k: stream.stats[k] for k in step.stats}
            assert got_stats == step.stats, where
