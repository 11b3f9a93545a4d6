"""Commands that only read use a cached manifest of the project: they do not import its
modules while the files are unchanged, and see every edit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from weir.project.loader import load_project
from weir.project.manifest import UnloadedFunction, is_stand_in, load_for_reading, read_manifest

ASSETS = '''
import pathlib
import weir
with pathlib.Path(__file__).with_name("imports.log").open("a") as log:
    log.write("imported\\n")
days = weir.daily(start="2024-01-01", end="2024-01-31")

@weir.asset(partitions=days, checks=[weir.checks.row_count(min=1)])
def a(context):
    return None

@weir.asset(partitions=days)
def b(a):
    return a
'''


def imports(project: Path) -> int:
    log = project / "imports.log"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_a_fresh_manifest_answers_without_importing_the_project(make_project, tmp_path):
    project = make_project({"assets.py": ASSETS})
    cache = tmp_path / "ws" / "cache"
    real = load_for_reading(project, cache)
    assert imports(project) == 1
    cached = load_for_reading(project, cache)
    assert imports(project) == 1  # not imported again
    assert cached.order == real.order and cached.name == real.name
    assert {n: a.code_version for n, a in cached.assets.items()} == {n: a.code_version for n, a in real.assets.items()}
    assert cached.assets["a"].partitions.count() == 31 and cached.upstreams("b") == ["a"]
    assert is_stand_in(cached.assets["a"]) and not is_stand_in(real.assets["a"])
    with pytest.raises(RuntimeError, match="not loaded"):
        cached.assets["a"].fn()
    assert isinstance(cached.assets["b"].fn, UnloadedFunction)


def test_any_edit_makes_the_next_read_load_the_files(make_project, tmp_path):
    project = make_project({"assets.py": ASSETS})
    cache = tmp_path / "ws" / "cache"
    load_for_reading(project, cache)
    path = project / "assets.py"
    path.write_text(path.read_text().replace('end="2024-01-31"', 'end="2024-02-29"'))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a second edit within the clock tick
    assert read_manifest(project, cache) is None
    fresh = load_for_reading(project, cache)
    assert fresh.assets["a"].partitions.count() == 60 and imports(project) == 2
    (project / "checks.yml").write_text("a:\n  - not_null: {column: x}\n")
    assert read_manifest(project, cache) is None  # a new checks file counts too
    assert load_project(project).assets["a"].checks != fresh.assets["a"].checks


def test_check_arguments_that_are_not_a_mapping_are_a_config_error(make_project):
    from weir.errors import ConfigError

    project = make_project({"assets.py": ASSETS, "checks.yml": "a:\n  - not_null: x\n"})
    with pytest.raises(ConfigError, match="not_null: give its arguments as a mapping"):
        load_project(project)


def test_weir_status_neither_imports_the_project_nor_sqlalchemy_once_the_manifest_is_cached(make_project, tmp_path):
    import json
    import subprocess
    import sys

    from conftest import weir_cli

    project = make_project({"assets.py": ASSETS.replace("return None", "return __import__('pandas').DataFrame({'x': [1]})")})
    ws = tmp_path / "ws"
    weir_cli(ws, project, "run", "--executor", "inprocess")
    before = imports(project)
    code = (
        "import json, sys\n"
        "from weir.cli.main import main\n"
        f"sys.argv = ['weir', '--workspace', {str(ws)!r}, '--project', {str(project)!r}, 'status', '--json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('sqlalchemy', 'pandas', 'polars', 'duckdb', 'deltalake') if m in sys.modules)\n"
        "sys.stderr.write('HEAVY=' + json.dumps(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status = json.loads(proc.stdout)
    assert {r["asset"]: r["published"] for r in status} == {"a": 31, "b": 31}
    assert imports(project) == before  # the project's modules were not imported
    assert json.loads(proc.stderr.split("HEAVY=")[-1]) == []
