"""Executors are found by name in a registry: a new one runs a plan without the runner knowing
it, an unknown name is a usage error (exit 2) before anything is written, and the process pool
stops its workers when a run is cancelled."""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import ClassVar

import pytest
from conftest import weir_cli

from weir.engine.executors import EXECUTORS, choose_executor, make_executor, register_executor, unregister_executor
from weir.engine.executors.inprocess import InProcessExecutor
from weir.engine.heartbeat import process_alive
from weir.errors import UsageError, WeirError
from weir.workspace import RunRequest, Workspace

ASSETS = '''
import os
import time
from pathlib import Path

import pandas as pd
import weir

HERE = Path(__file__).parent
days = weir.daily(start="2024-01-01", end="2024-01-03")


@weir.asset(partitions=days)
def numbers(context):
    return pd.DataFrame({"day": [context.partition_key], "n": [int(context.partition_key[-2:])]})


@weir.asset(partitions=days)
def doubled(numbers):
    return numbers.assign(n=numbers["n"] * 2)


@weir.asset(partitions=weir.unpartitioned())
def hangs(context):
    (HERE / "hanging-pid").write_text(str(os.getpid()))
    time.sleep(120)
    return pd.DataFrame({"x": [1]})
'''


class RecordingExecutor(InProcessExecutor):
    """Builds in process, keeping a copy of each spec it was sent (after a trip through pickle)."""

    name = "recording"
    specs: ClassVar[list] = []

    def submit(self, spec) -> None:
        copy = pickle.loads(pickle.dumps(spec))  # specs are plain data that can cross a process
        assert copy == spec
        RecordingExecutor.specs.append(copy)
        super().submit(copy)


@pytest.fixture
def recording():
    RecordingExecutor.specs = []
    register_executor("recording", lambda *, project, workers: RecordingExecutor(project))
    yield RecordingExecutor
    unregister_executor("recording")


@pytest.fixture
def project(make_project, workspace_dir, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    return make_project({"assets.py": ASSETS})


def test_a_registered_executor_runs_the_plan(workspace_dir, project, recording):
    assert "recording" in EXECUTORS

    with Workspace(workspace_dir, project) as ws:
        result = ws.runs.run(RunRequest(assets=("numbers", "doubled"), executor="recording"))
        assert ws.data.read("doubled", "2024-01-03").column("n").to_pylist() == [6]

    assert result.state == "succeeded"
    assert sorted((s.asset, s.key) for s in recording.specs) == sorted(
        (a, d) for a in ("numbers", "doubled") for d in ("2024-01-01", "2024-01-02", "2024-01-03")
    )


def test_executor_names_list_the_registry_and_auto():
    assert list(EXECUTORS) == ["inprocess", "processes", "auto"]
    assert "auto" in EXECUTORS and "threads" not in EXECUTORS
    assert choose_executor("auto", 8) == "inprocess"
    assert choose_executor("auto", 9) == "processes"
    assert choose_executor("processes", 1) == "processes"


@pytest.mark.parametrize("name", ["auto", "inprocess", "not a word"])
def test_a_taken_or_malformed_name_cannot_be_registered(name):
    with pytest.raises(ValueError, match=repr(name)):
        register_executor(name, lambda *, project, workers: None)


def test_an_unknown_executor_is_a_usage_error_and_nothing_is_written(workspace_dir, project):
    with pytest.raises(UsageError, match=r"unknown executor 'threads' \(choose: inprocess, processes, auto\)"):
        make_executor("threads", None)
    with Workspace(workspace_dir, project) as ws:
        with pytest.raises(WeirError, match="unknown executor 'threads'") as info:
            ws.runs.run(RunRequest(executor="threads"))
        assert info.value.exit_code == 2
        assert ws.runs.list() == []


def test_an_unknown_executor_exits_2_on_the_command_line(workspace_dir, project):
    proc = weir_cli(workspace_dir, project, "run", "--executor", "threads", expect=2)
    assert proc.stderr.strip().splitlines() == ["error: --executor 'threads' is not one of inprocess, processes, auto"]


def test_cancelling_the_process_pool_ends_a_running_task(project):
    from weir.engine.tasks import TaskSpec
    from weir.project.loader import load_project

    loaded = load_project(project)
    pool = make_executor("processes", loaded, workers=1)
    pool.submit(TaskSpec(project_root=str(project), asset="hangs", key="", start=None, end=None, run_id="r",
                         table_dir=str(project / "hangs-table"), table_schema=None, inputs=()))
    marker = project / "hanging-pid"
    assert pool.completed(timeout=0.01) == []
    deadline = time.monotonic() + 60
    while not marker.exists() or not marker.read_text():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.02)
    pid = int(marker.read_text())
    assert process_alive(pid)

    pool.close(cancel=True)

    assert not process_alive(pid)
