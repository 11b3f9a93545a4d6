"""The dependency inventory of a workspace: which assets (and the models and insights resting on
them) were built with which version of a package, across every project, and which projects run
on more than one version of it. Read from what is published: each published partition with the
environment of the run that wrote it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weir.envs.snapshot import canonical
from weir.errors import UsageError

if TYPE_CHECKING:
    from packaging.specifiers import SpecifierSet


def parse_spec(text: str) -> tuple[str, Any]:
    """``pandas<2`` -> (``pandas``, its SpecifierSet); ``pandas`` -> (``pandas``, None).
    Raises UsageError for what is not a requirement."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"{text!r} is not a package name with an optional version spec (e.g. 'pandas<2'): {exc}") from None
    return canonical(req.name), (req.specifier or None)


def inventory(published: list[dict], packages: dict[str, dict[str, str]], *, package: str | None = None,
              spec: SpecifierSet | None = None, kinds: dict[tuple[str, str], str] | None = None,
              insights: dict[tuple[str, str], list[str]] | None = None) -> dict[str, Any]:
    """``published``: ``{project, asset, environment_id, partitions, last_published}`` rows;
    ``packages``: each environment's ``{package: version}``. Returns ``{package, spec, assets,
    packages}``: ``assets`` (with ``package`` only) ``[{project, asset, kind, version, partitions,
    last_published, insights}]`` whose version matches ``spec``; ``packages`` ``[{package,
    versions: {version: {assets, partitions}}, projects_on_several: {project: [versions]}}]``."""
    kinds, insights = kinds or {}, insights or {}
    # (package, version, project, asset) -> [partitions, last published]
    use: dict[tuple[str, str, str, str], list] = {}
    for row in published:
        for name, version in packages.get(row["environment_id"], {}).items():
            if package is not None and name != package:
                continue
            key = (name, version, row["project"], row["asset"])
            seen = use.setdefault(key, [0, 0.0])
            seen[0] += row["partitions"]
            seen[1] = max(seen[1], row["last_published"] or 0.0)
    summary: dict[str, dict[str, Any]] = {}
    for (name, version, project, _asset), (partitions, _last) in sorted(use.items()):
        entry = summary.setdefault(name, {"package": name, "versions": {}, "projects": {}})
        v = entry["versions"].setdefault(version, {"assets": 0, "partitions": 0})
        v["assets"] += 1
        v["partitions"] += partitions
        entry["projects"].setdefault(project, set()).add(version)
    out_packages = [{"package": e["package"], "versions": e["versions"],
                     "projects_on_several": {p: sorted(vs) for p, vs in sorted(e["projects"].items()) if len(vs) > 1}}
                    for e in summary.values()]
    assets = []
    if package is not None:
        for (_name, version, project, asset), (partitions, last) in sorted(use.items(), key=lambda i: (i[0][2], i[0][3], i[0][1])):
            if spec is not None and not spec.contains(version, prereleases=True):
                continue
            assets.append({"project": project, "asset": asset, "kind": kinds.get((project, asset), "asset"),
                           "version": version, "partitions": partitions, "last_published": last or None,
                           "insights": insights.get((project, asset), [])})
    return {"package": package, "spec": str(spec) if spec is not None else None, "assets": assets,
            "packages": out_packages}
