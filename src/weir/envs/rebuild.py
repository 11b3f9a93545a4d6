"""``weir rebuild``: partitions of one asset built again, and with ``downstream`` what depends on
them, through the normal write-audit-publish path. In an earlier environment (``env_of`` a run,
or ``env`` an id) the asset's partitions are built by worker processes of that environment,
materialized with uv, and their run records the environment it actually used; what depends on
them is rebuilt afterwards, in this environment, by a second run."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.errors import EnvironmentUnavailable, UsageError
from weir.runs.request import RunRequest

if TYPE_CHECKING:
    from pathlib import Path

    from weir.engine.recorder import RunResult
    from weir.envs.service import EnvironmentService
    from weir.envs.snapshot import EnvironmentSnapshot
    from weir.envs.uv import MaterializedEnvironment
    from weir.project.graph import Project
    from weir.reporting import Reporter
    from weir.runs.service import RunService


@dataclass(frozen=True, kw_only=True)
class RebuildRequest:
    """Which partitions of ``asset`` to rebuild (one key, or ``first``..``last``), whether what
    depends on them follows, and the environment to build them in (``env_of`` a run's, or
    ``env`` an environment id; neither: this one). Raises UsageError or PartitionError."""

    asset: str
    partition: str | None = None
    first: str | None = None
    last: str | None = None
    downstream: bool = False
    env_of: str | None = None
    env: str | None = None
    workers: int | None = None
    actor: str | None = None  # who asked for the rebuild

    def __post_init__(self) -> None:
        if self.env_of and self.env:
            raise UsageError("use either --env-of RUN or --env ID, not both")
        if not (self.partition or self.first or self.last):
            raise UsageError("say which partitions to rebuild: --partition KEY, or --from KEY --to KEY")
        self.run_request([self.asset])  # the range is checked as 'weir run' checks it

    @property
    def environment(self) -> str | None:
        return self.env_of or self.env

    def run_request(self, assets: list[str], environment: str | None = None) -> RunRequest:
        return RunRequest(assets=tuple(assets), partition=self.partition, first=self.first, last=self.last,
                          trigger="rebuild", workers=self.workers, environment=environment, actor=self.actor)


@dataclass(kw_only=True)
class RebuildResult:
    """The runs a rebuild made (the asset's, then its downstream's if asked and it succeeded)
    and, in an earlier environment, which was asked for and which was used."""

    asset: str
    runs: list[RunResult] = field(default_factory=list)
    environment: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    def to_json(self) -> dict[str, Any]:
        return {"asset": self.asset, "state": "succeeded" if self.ok else "failed", "environment": self.environment,
                "runs": [r.to_dict() for r in self.runs]}


def rebuild(envs: EnvironmentService, runs: RunService, project: Project, request: RebuildRequest,
            reporter: Reporter | None = None) -> RebuildResult:
    """Run the rebuild ``request`` asks for. An environment that cannot be made raises
    EnvironmentUnavailable before any run starts."""
    project.asset(request.asset)
    below = [n for n in project.closure([request.asset], upstream=False) if n != request.asset] if request.downstream else []
    if request.environment is None:
        result = runs.run(request.run_request([request.asset, *below]), reporter)
        return RebuildResult(asset=request.asset, runs=[result])
    from weir.engine.executors.venv import VenvExecutor
    from weir.envs.snapshot import capture

    target, run_id = envs.resolve(request.environment)
    first = request.run_request([request.asset], environment=target["id"])
    planned = runs.plan(first)  # keys that select nothing fail here, before an environment is made
    here = capture()
    if here.id == target["id"]:  # the earlier environment is this one: nothing to make
        outcome = RebuildResult(asset=request.asset, environment=_environment(target, run_id, here, None))
        outcome.runs.append(runs.run(request.run_request([request.asset, *below], environment=target["id"]), reporter,
                                     environment=here.to_row()))
        return outcome
    made = envs.materialize(target["id"])
    # the workers start now: their imports overlap taking the snapshot and recording the run
    workers = VenvExecutor(project, python=str(made.python),
                           workers=request.workers or max(1, min(len(planned.tasks), os.cpu_count() or 1, 8)))
    try:
        used = capture_in(made.python, target["id"])
        outcome = RebuildResult(asset=request.asset, environment=_environment(target, run_id, used, made))
        outcome.runs.append(runs.run(first, reporter, environment=used.to_row(), executor=workers))
    finally:
        workers.close()  # the run closed them already, unless it never started building
    if below and outcome.ok:
        outcome.runs.append(runs.run(request.run_request(below), reporter))
    return outcome


def _environment(target: dict, run_id: str | None, used: EnvironmentSnapshot, made: MaterializedEnvironment | None) -> dict:
    from weir.envs.diff import environment_diff

    differences = environment_diff(target, used.to_row())
    return {"requested": target["id"], "run_id": run_id, "used": used.id, "same": used.id == target["id"],
            "differences": differences["packages"], "python": differences["python"],
            "venv": made.to_json() if made else None}


def capture_in(python: Path, env_id: str) -> EnvironmentSnapshot:
    """The snapshot of the environment of interpreter ``python``, taken by that interpreter.
    Raises EnvironmentUnavailable when weir does not run there."""
    import json
    import subprocess

    from weir.engine.executors.venv import worker_environment
    from weir.envs.snapshot import EnvironmentSnapshot

    done = subprocess.run([str(python), "-m", "weir.envs.snapshot"], capture_output=True, text=True,
                          env=worker_environment(), check=False)
    if done.returncode != 0:
        said = [ln for ln in done.stderr.splitlines() if ln.strip()]
        raise EnvironmentUnavailable(f"weir does not run in environment {env_id} ({python}): "
                                     f"{said[-1] if said else f'exit code {done.returncode}'}")
    return EnvironmentSnapshot.from_row(json.loads(done.stdout))
