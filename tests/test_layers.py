"""The architecture holds: packages import only downward along DESIGN.md's layers, and
`weir --help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "weir"
HEAVY = ("duckdb", "deltalake", "pandas", "polars", "pyarrow", "sqlalchemy", "alembic", "numpy", "dask")

# DESIGN.md, "Layers", top to bottom. A package may import every package of the layers below
# its own, and in its own layer only what PEERS lists. "weir" is the authoring API
# (src/weir/__init__.py), which project code imports.
LAYERS: list[tuple[str, set[str]]] = [
    ("shells", {"cli", "api", "ui"}),
    ("composition root", {"workspace", "instance"}),
    ("feature services", {"runs", "lineage", "eventlog", "health", "incidents", "alerts", "envs", "scenarios", "daemon", "deploy"}),
    ("quality and monitoring", {"quality", "monitoring"}),
    ("engine", {"engine"}),
    ("tables, compute, projects", {"storage", "compute", "project", "weir"}),
    ("metadata store", {"store"}),
    ("vocabulary", {"model", "events", "errors", "reporting", "consumers"}),
]
# Feature services in order: each may import only those before it (an incident's impact walks
# the lineage; alerts tell of incidents; a scenario's steps run builds and rebuilds).
FEATURES = ["eventlog", "lineage", "health", "runs", "envs", "incidents", "alerts", "deploy", "scenarios", "daemon"]
assert set(FEATURES) == LAYERS[2][1]
PEERS = {
    **{p: set(FEATURES[:i]) for i, p in enumerate(FEATURES)},
    "workspace": {"instance"},  # the instance opens projects, a project lives in an instance
    "instance": {"workspace"},
    "model": {"errors"},
    "reporting": {"events"},  # the progress reporter is an event sink
    "events": {"model"},  # an event names its asset by its key
    "weir": {"project"},
}
# Project code bundled as examples: it sees weir as users do, through the authoring API only.
OUTSIDE = {"examples": {"weir"}}
# Imports that break the table and belong to code another change owns; each entry says why.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def allowed() -> dict[str, set[str]]:
    """The whole table: package -> the packages it may import."""
    table = dict(OUTSIDE)
    for i, (_, layer) in enumerate(LAYERS):
        below = set().union(*(names for _, names in LAYERS[i + 1:]))
        for package in layer:
            table[package] = below | PEERS.get(package, set())
    return table


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at_module_level) for every absolute import in a file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, node.lineno, id(node) in top))
    return out


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    if len(rel.parts) > 1:
        return rel.parts[0]
    return "weir" if rel.name == "__init__.py" else rel.stem


def _edges() -> dict[tuple[str, str], list[str]]:
    """(importer package, imported package) -> where, for every import between weir's packages."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        here = _package(path)
        for module, line, _ in _imports(path):
            parts = module.split(".")
            if parts[0] != "weir":
                continue
            there = parts[1] if len(parts) > 1 else "weir"
            if there != here:
                edges.setdefault((here, there), []).append(f"{path.relative_to(SRC)}:{line}")
    return edges


def test_every_package_has_a_place_in_the_layers():
    packages = {_package(p) for p in SRC.rglob("*.py")}
    assert sorted(packages - set(allowed())) == []


def test_packages_import_only_what_the_layers_allow():
    table = allowed()
    violations = {edge: where for edge, where in _edges().items() if edge[1] not in table.get(edge[0], set())}
    assert sorted(set(violations) - set(KNOWN_VIOLATIONS)) == [], {e: violations[e] for e in violations}
    assert sorted(set(KNOWN_VIOLATIONS) - set(violations)) == [], "fixed: take it off KNOWN_VIOLATIONS"


def test_the_table_reads_as_designed():
    table = allowed()
    assert "workspace" not in table["runs"] and "cli" not in table["workspace"]
    assert "monitoring" not in table["quality"] and "quality" not in table["monitoring"]
    assert "engine" in table["quality"] and "quality" not in table["engine"]
    assert table["store"] == {"model", "events", "errors", "reporting", "consumers"}
    assert table["incidents"] >= {"runs", "envs", "lineage"} and "alerts" not in table["incidents"]
    assert "incidents" not in table["envs"] and "envs" not in table["runs"]
    assert table["errors"] == set() and table["model"] == {"errors"}


def test_cli_entry_workspace_and_authoring_api_import_no_heavy_library_at_module_level():
    light = [SRC / "__init__.py", SRC / "errors.py", SRC / "events.py", SRC / "workspace.py",
             *(SRC / "cli").glob("*.py"), *(SRC / "model").glob("*.py"), *(SRC / "runs").glob("*.py"),
             *(SRC / "eventlog").glob("*.py"), SRC / "lineage" / "graph.py", SRC / "quality" / "service.py",
             SRC / "monitoring" / "service.py", SRC / "project" / "authoring.py", SRC / "project" / "keys.py"]
    offenders = [
        f"{p.relative_to(SRC)}:{line} imports {m}"
        for p in light
        for m, line, top in _imports(p)
        if top and m.split(".")[0] in HEAVY
    ]
    assert offenders == []


def test_help_loads_no_heavy_library_nor_rich():
    heavy = (*HEAVY, "rich")
    code = (f"import sys, weir.cli.main as m; sys.argv = ['weir', '--help']\n"
            f"try:\n    m.main()\nexcept SystemExit:\n    pass\n"
            f"print(','.join(sorted(k for k in sys.modules if k.split('.')[0] in {heavy!r})), file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in proc.stdout
    assert proc.stderr.strip() == ""
