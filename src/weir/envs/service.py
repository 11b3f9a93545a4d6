"""Environments: which ones runs used, one in full, what differs between two, making one again
(a venv under the workspace) to rebuild partitions in it, and rehearsing an upgrade."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from weir.errors import UnknownObjectError

if TYPE_CHECKING:
    from weir.envs.rebuild import RebuildRequest, RebuildResult
    from weir.envs.rehearsal import Rehearsal
    from weir.envs.rehearse import RehearsalRequest
    from weir.envs.uv import MaterializedEnvironment
    from weir.project.graph import Project
    from weir.quality.auditor import ReferencesOf
    from weir.reporting import Reporter
    from weir.runs.service import RunService, Tables
    from weir.store.store import MetadataStore

RUNS_SHOWN = 20


class Quality(Protocol):
    """What a rehearsal needs of quality (``quality.service.QualityService``): where the targets
    of references checks are."""

    def references(self) -> ReferencesOf: ...


class EnvironmentService:
    """Reads the environment snapshots runs recorded; materializes one into ``<home>/envs``."""

    def __init__(self, *, project: Callable[[], Project], store: Callable[[], MetadataStore], runs: RunService,
                 home: Path, tables: Tables, quality: Quality) -> None:
        self._project = project
        self._store = store
        self._runs = runs
        self._tables = tables
        self._quality = quality
        self.home = home
        self.cache = home / "envs"

    def list(self) -> list[dict[str, Any]]:
        """Every environment a run used, most recently used first, with ``runs`` (how many),
        ``first_used``, ``last_used``, ``last_run``, ``projects`` and ``assets`` (``project.asset``)."""
        store = self._store()
        with store.read():
            envs = store.environments.list()
            assets = store.environments.assets([e["id"] for e in envs])
        return [{**e, "assets": assets.get(e["id"], [])} for e in envs]

    def show(self, ref: str) -> dict[str, Any]:
        """One environment (by id, id prefix, or a run that used it) with its usage, its newest
        runs and the assets they built; ``run_id`` is the run ``ref`` named, if it named one.
        Raises UnknownObjectError."""
        store = self._store()
        with store.read():
            env, run_id = self.resolve(ref)
            usage = store.environments.usage(env["id"])
            runs = store.environments.runs(env["id"], limit=RUNS_SHOWN)
            assets = store.environments.assets([env["id"]]).get(env["id"], [])
        return {**env, **usage, "run_id": run_id, "run_list": runs, "assets": assets}

    def diff(self, a: str, b: str) -> dict[str, Any]:
        """What changed from environment (or run) ``a`` to ``b``: see ``envs.diff.environment_diff``;
        with ``from`` and ``to`` as ``{id, run_id}``. Raises UnknownObjectError."""
        from weir.envs.diff import environment_diff

        store = self._store()
        with store.read():
            before, run_a = self.resolve(a)
            after, run_b = self.resolve(b)
        return {"from": {"id": before["id"], "run_id": run_a}, "to": {"id": after["id"], "run_id": run_b},
                **environment_diff(before, after)}

    def resolve(self, ref: str) -> tuple[dict, str | None]:
        """The stored environment ``ref`` names (an id or unique prefix of one, else of a run:
        the environment that run used), and the run's id when it named a run."""
        store = self._store()
        with store.read():
            env = store.environments.get(ref)
            if env is not None:
                return env, None
            ids = store.environments.find(ref)
            if len(ids) > 1:
                raise UnknownObjectError(f"environment id {ref!r} is ambiguous: {', '.join(ids)}")
            if ids:
                return self._get(ids[0]), None
            run = store.runs.by_ref(ref)
            if run is None:
                raise UnknownObjectError(f"no environment or run {ref!r}; 'weir envs' and 'weir runs' list them")
            if not run.environment_id:
                raise UnknownObjectError(f"run {run.id} recorded no environment")
            return self._get(run.environment_id), run.id

    def _get(self, env_id: str) -> dict:
        env = self._store().environments.get(env_id)
        if env is None:
            raise UnknownObjectError(f"environment {env_id} was not kept")
        return env

    def materialize(self, ref: str) -> MaterializedEnvironment:
        """A venv of environment (or run) ``ref`` under ``<workspace>/envs/<id>/``, made with uv
        if not made yet. Raises UnknownObjectError, or EnvironmentUnavailable naming a package
        version that cannot be obtained (nothing is left behind then)."""
        from weir.envs.snapshot import EnvironmentSnapshot
        from weir.envs.uv import materialize

        env, _ = self.resolve(ref)
        return materialize(EnvironmentSnapshot.from_row(env), env["id"], self.cache)

    def lock(self, path: Path) -> dict[str, Any]:
        """Write the pins of the environment this project runs in (this interpreter's) to
        ``path``; returns ``{path, id, python, packages}`` (``packages`` counted)."""
        from weir.envs.lock import lock_text
        from weir.envs.snapshot import capture

        here = capture()
        path.write_text(lock_text(here))
        return {"path": str(path), "id": here.id, "python": here.python, "packages": len(here.packages)}

    def deps(self, spec: str | None = None) -> dict[str, Any]:
        """Which assets of every project were built with which version of a package: see
        ``envs.deps.inventory``. ``spec`` is ``PACKAGE`` or ``PACKAGE<SPEC>`` (e.g. ``pandas<2``);
        the kinds (asset or model) and insights are known for the current project's assets when
        it loads. Raises UsageError for a spec that does not parse."""
        from weir.envs.deps import inventory, parse_spec
        from weir.errors import WeirError

        package, specifier = parse_spec(spec) if spec else (None, None)
        store = self._store()
        with store.read():
            published = store.environments.published()
            packages = store.environments.packages(sorted({r["environment_id"] for r in published}))
        kinds: dict[tuple[str, str], str] = {}
        insights: dict[tuple[str, str], list[str]] = {}
        try:
            project = self._project()
        except WeirError:  # no project here, or one that does not load: names only
            project = None
        if project is not None:
            kinds = {(project.name, a.name): "model" if a.model is not None else "asset" for a in project.assets.values()}
            for insight in project.insights.values():
                for name in project.closure(list(insight.depends_on), upstream=True):
                    insights.setdefault((project.name, name), []).append(insight.name)
        return inventory(published, packages, package=package, spec=specifier, kinds=kinds, insights=insights)

    def rebuild(self, request: RebuildRequest, reporter: Reporter | None = None) -> RebuildResult:
        """Rebuild partitions (and what depends on them), in an earlier environment if asked:
        see ``envs.rebuild``."""
        from weir.envs.rebuild import rebuild

        return rebuild(self, self._runs, self._project(), request, reporter)

    def rehearse(self, request: RehearsalRequest) -> Rehearsal:
        """Try an upgrade on real data in a shadow environment and location, publishing nothing:
        see ``envs.rehearse``."""
        from weir.envs.rehearse import rehearse

        project = self._project()
        return rehearse(project=project, store=self._store(), catalog=self._tables.catalog,
                        references=self._quality.references(), cache=self.cache, home=self.home, request=request)
