"""The lineage graph of a project as a read model: sources, assets and insights, each once, in
build order, with what it reads and what reads it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from weir.model.keys import AssetKey

if TYPE_CHECKING:
    from weir.project.graph import Project


@dataclass(frozen=True, kw_only=True)
class LineageNode:
    key: AssetKey
    name: str
    type: str  # source | asset
    partitions: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    insights: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "key": str(self.key), "type": self.type, "partitions": self.partitions, "upstream": list(self.upstream),
                "downstream": list(self.downstream), "insights": list(self.insights)}


@dataclass(frozen=True, kw_only=True)
class LineageInsight:
    name: str
    depends_on: tuple[str, ...]
    owners: tuple[str, ...]
    url: str | None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "depends_on": list(self.depends_on), "owners": list(self.owners), "url": self.url}


@dataclass(frozen=True, kw_only=True)
class LineageGraph:
    """Nodes in build order (every upstream before what reads it)."""

    project: str
    nodes: tuple[LineageNode, ...]
    insights: tuple[LineageInsight, ...]

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (``weir lineage --json``)."""
        return {"project": self.project, "nodes": [n.to_json() for n in self.nodes],
                "insights": [i.to_json() for i in self.insights]}


class LineageService:
    def __init__(self, *, project: Callable[[], Project]) -> None:
        self._project = project

    def graph(self, asset: str | None = None) -> LineageGraph:
        """The whole graph, or what is upstream and downstream of ``asset`` (a source or an asset).
        Raises UnknownObjectError for an unknown name."""
        project = self._project()
        if asset:
            asset = project.node(asset).name
            around = set(project.closure([asset], upstream=True)) | set(project.closure([asset], upstream=False))
            names = [n for n in project.order if n in around]
        else:
            names = list(project.order)
        nodes = tuple(
            LineageNode(key=AssetKey(project.name, n), name=n, type=project.node(n).kind, partitions=project.node(n).partitions.describe(),
                        upstream=tuple(project.upstreams(n)), downstream=tuple(project.downstreams(n)),
                        insights=tuple(project.insights_on(n)))
            for n in names
        )
        insights = tuple(
            LineageInsight(name=i.name, depends_on=tuple(i.depends_on), owners=tuple(i.owners), url=i.url)
            for i in project.insights.values()
            if not asset or set(i.depends_on) & set(names)
        )
        return LineageGraph(project=project.name, nodes=nodes, insights=insights)
