"""The docstring examples of the sash module and of its functions, run as doctests.

pytest's --doctest-modules does not look inside the native module (its
functions live in sash._sash), so the docstrings are collected here.
"""
import doctest

import pytest

import sash

OBJECTS = {
    "sash": sash,
    "sash.window_agg": sash.window_agg,
    "sash.rolling": sash.rolling,
    "sash.parse": sash.parse,
    "sash.read_log": sash.read_log,
    "sash.WindowStream": sash.WindowStream,
    "sash.RollingStream": sash.RollingStream,
}


@pytest.mark.parametrize("name", OBJECTS)
def test_docstring_examples(name):
    finder = doctest.DocTestFinder(recurse=False)
    tests = finder.find(OBJECTS[name], name, globs={})
    examples = sum(len(t.examples) for t in tests)
    assert examples >= 2, f"{name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name}"
