"""A loaded project: its objects and the lineage graph between them."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

from weir.errors import ProjectError, UnknownObjectError
from weir.model.definitions import Asset, Insight, Source
from weir.model.keys import AssetKey
from weir.model.scenarios import Scenario
from weir.project.config import ProjectConfig

Node = Asset | Source


@dataclass(frozen=True, kw_only=True)
class Project:
    """Every source, asset, insight and scenario of one project, validated as a graph."""

    config: ProjectConfig
    sources: dict[str, Source] = field(default_factory=dict)
    assets: dict[str, Asset] = field(default_factory=dict)
    insights: dict[str, Insight] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    scenarios: dict[str, Scenario] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def root(self) -> Path:
        return self.config.root

    def key(self, text: str) -> AssetKey:
        """The key ``text`` names (``orders`` or ``<this project>.orders``); see ``local_key``."""
        return local_key(text, self.name)

    def _local(self, name: str) -> str:
        """The bare name of ``name``: a qualified key goes through ``key`` (a bare name that is no
        name at all stays as it is, to be told unknown with a suggestion)."""
        return self.key(name).name if "." in name else name

    def node(self, name: str) -> Node:
        """The source or asset called ``name`` (a bare name or this project's key); raises
        UnknownObjectError with a suggestion."""
        name = self._local(name)
        found = self.assets.get(name) or self.sources.get(name)
        if found is None:
            raise UnknownObjectError(f"unknown asset {name!r}{suggest(name, list(self.assets) + list(self.sources))}")
        return found

    def asset(self, name: str) -> Asset:
        """The asset called ``name`` (a bare name or this project's key)."""
        name = self._local(name)
        if name not in self.assets:
            if name in self.sources:
                raise UnknownObjectError(f"{name!r} is a source, not an asset")
            raise UnknownObjectError(f"unknown asset {name!r}{suggest(name, list(self.assets))}")
        return self.assets[name]

    def upstreams(self, name: str) -> list[str]:
        node = self.node(name)
        return sorted(set(node.upstream_names)) if isinstance(node, Asset) else []

    def downstreams(self, name: str) -> list[str]:
        return sorted(a.name for a in self.assets.values() if name in a.upstream_names)

    def insights_on(self, name: str) -> list[str]:
        return sorted(i.name for i in self.insights.values() if name in i.depends_on)

    def closure(self, names: list[str], *, upstream: bool) -> list[str]:
        """``names`` plus everything above (upstream=True) or below them, in build order."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            n = stack.pop()
            if n in seen:
                continue
            seen.add(n)
            stack.extend(self.upstreams(n) if upstream else self.downstreams(n))
        return [n for n in self.order if n in seen]


def local_key(text: str, project: str) -> AssetKey:
    """The key ``text`` names in ``project`` (``orders`` or ``<project>.orders``). Another
    project's key, or text that is no key, raises a one-line error (exit 2); whether the asset
    exists is not checked."""
    key = AssetKey.parse(text, project)
    if key.project != project:
        raise UnknownObjectError(f"{text!r} is an asset of project {key.project!r}, not of this project {project!r}: "
                                 f"reading another project's assets is not supported yet")
    return key


def suggest(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate(project: Project) -> Project:
    """Check the graph: upstreams exist, mappings can work, no cycles. Returns it with ``order``."""
    known: dict[str, Node] = {**project.sources, **project.assets}
    from weir.model.monitors import setting_problem

    nodes: list[Node] = [*project.sources.values(), *project.assets.values()]
    for node in nodes:
        for setting in node.monitors:
            problem = setting_problem(setting, list(node.metrics), dict(getattr(node, "columns", {}) or {}))
            if problem:
                raise ProjectError(f"{node.kind} {node.name!r}: {problem}", where=setting.where or str(node.location))
    for src in project.sources.values():
        for check in src.checks:
            target = getattr(check, "to", None)
            if target is not None and target not in known:
                raise ProjectError(
                    f"source {src.name!r}: check {check.label} references unknown {target!r}{suggest(target, list(known))}",
                    where=str(src.location),
                )
    for a in project.assets.values():
        for param, inp in a.inputs.items():
            key = inp.key or AssetKey.parse(inp.upstream, project.name)
            if key.project != project.name:
                raise ProjectError(f"asset {a.name!r} reads {str(key)!r}, an asset of project {key.project!r}: "
                                   f"reading another project's assets is not supported yet", where=str(a.location))
            up = known.get(key.name)
            if up is None:
                raise ProjectError(
                    f"asset {a.name!r} reads unknown upstream {key.name!r}{suggest(key.name, list(known))}",
                    where=str(a.location),
                )
            problem = inp.mapping.problem(a.partitions, up.partitions)
            if problem:
                raise ProjectError(f"asset {a.name!r}, input {param!r}: {problem}", where=str(a.location))
        for check in a.checks:
            target = getattr(check, "to", None)
            if target is not None and target not in known:
                raise ProjectError(
                    f"asset {a.name!r}: check {check.label} references unknown {target!r}{suggest(target, list(known))}",
                    where=str(a.location),
                )
    for i in project.insights.values():
        for dep in i.depends_on:
            if dep not in known:
                raise ProjectError(
                    f"insight {i.name!r} depends on unknown asset {dep!r}{suggest(dep, list(known))}", where=str(i.location)
                )
    from weir.project.scenarios_file import check_scenario_names

    for scenario in project.scenarios.values():
        check_scenario_names(scenario, assets=set(project.assets), sources=set(project.sources),
                             routes={r.name for r in project.config.alerts.routes},
                             models={n for n, a in project.assets.items() if a.model is not None})
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for s in project.sources:
        sorter.add(s)
    for a in project.assets.values():
        sorter.add(a.name, *a.upstream_names)
    try:
        order = tuple(sorter.static_order())
    except CycleError as exc:
        cycle = exc.args[1]
        first = project.assets[cycle[0]]
        raise ProjectError(f"cycle between assets: {' -> '.join(cycle)}", where=str(first.location)) from None
    return Project(config=project.config, sources=project.sources, assets=project.assets, insights=project.insights,
                   order=order, scenarios=project.scenarios)
