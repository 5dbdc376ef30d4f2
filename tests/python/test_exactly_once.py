"""examples/exactly_once.py, killed with SIGKILL at 20 random moments and
restarted from its last commit each time, writes exactly what one
uninterrupted run writes: no window lost, none repeated. And that output is
window_agg over the whole log."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
import random
import signal
import subprocess
import sys
import time

import pytest

import sash

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "exactly_once.py"
LOG = ROOT / "examples" / "data" / "apache_combined_10k.log"
ARGS = ["--batch-size", "50", "--commit-every", "3"]


def load_example():
    loader = importlib.util.spec_from_file_location("exactly_once", EXAMPLE)
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def start(output: Path, pace: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(EXAMPLE), str(LOG), str(output), *ARGS, "--pace", str(pace)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> None:
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    output = tmp_path_factory.mktemp("straight") / "out.jsonl"
    finish(start(output, 0.0))
    return output.read_bytes()


def test_the_output_is_window_agg_over_the_whole_log(uninterrupted: bytes) -> None:
    records = [json.loads(line) for line in uninterrupted.decode().splitlines()]
    assert not [r for r in records if "late" in r], "the log's disorder is within the lateness"
    table = sash.read_log(LOG, "combined").drop_columns(["_error"])
    example = load_example()
    want = example.lines(sash.window_agg(table, **example.SPEC), "window")
    assert len(records) > 100
    assert sorted(uninterrupted.splitlines()) == sorted(want.splitlines())


def test_kill_9_at_twenty_random_moments_loses_and_repeats_nothing(tmp_path: Path, uninterrupted: bytes) -> None:
    rng = random.Random(7)
    output = tmp_path / "out.jsonl"
    commit = tmp_path / "out.jsonl.commit"
    kills_while_running = 0
    progress = []
    for _ in range(20):
        proc = start(output, 0.01)
        # Killed at a random moment of its work (200 batches, 10 ms apart:
        # a few at most between two kills), once it has started (imports
        # take long on a busy machine).
        assert proc.stdout.readline().startswith(b"starting after batch")
        time.sleep(rng.uniform(0.0, 0.2))
        if proc.poll() is None:
            kills_while_running += 1
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if commit.exists():
            meta_len = int.from_bytes(commit.read_bytes()[:8], "little")
            progress.append(json.loads(commit.read_bytes()[8 : 8 + meta_len])["batches"])
    finish(start(output, 0.0))
    assert output.read_bytes() == uninterrupted
    # The kills hit a running job, and it resumed from its commits rather than starting over.
    assert kills_while_running >= 15, kills_while_running
    assert progress and progress == sorted(progress) and progress[-1] > progress[0], progress
