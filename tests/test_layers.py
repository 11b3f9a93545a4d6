"""The architecture holds: the core never imports the shells, and `weir --help` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "weir"
SHELLS = ("weir.cli", "weir.api", "weir.ui")
HEAVY = ("duckdb", "deltalake", "pandas", "polars", "pyarrow", "sqlalchemy", "alembic", "numpy", "dask")


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(module, line, at_module_level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, node.lineno, id(node) in top))
    return out


def test_core_never_imports_a_shell():
    offenders = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] in ("cli", "api", "ui"):
            continue
        for module, line, _ in _imports(path):
            if module.startswith(SHELLS):
                offenders.append(f"{rel}:{line} imports {module}")
    assert offenders == []


def test_cli_entry_and_authoring_api_import_no_heavy_library_at_module_level():
    light = [SRC / "__init__.py", SRC / "errors.py", SRC / "cli" / "main.py", *(SRC / "model").glob("*.py"),
             SRC / "project" / "authoring.py"]
    offenders = [
        f"{p.relative_to(SRC)}:{line} imports {m}"
        for p in light
        for m, line, top in _imports(p)
        if top and m.split(".")[0] in HEAVY
    ]
    assert offenders == []


def test_help_loads_no_heavy_library():
    code = f"import sys, weir.cli.main as m; print(','.join(sorted(k for k in sys.modules if k.split('.')[0] in {HEAVY!r})))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
