"""Assets named by their key, ``project.asset``: in inputs, on the command line, in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import land_csv, weir_cli, write_project

from weir.errors import ConfigError
from weir.model.keys import AssetKey
from weir.project.loader import load_project

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-02")
landing = weir.source("landing", path="landing/{{partition}}.csv", partitions=days)


@weir.asset(partitions=days)
def upstream(landing: pd.DataFrame) -> pd.DataFrame:
    return landing


@weir.asset(partitions=days, inputs={{"x": {x}}})
def doubled(x: pd.DataFrame) -> pd.DataFrame:
    return x.assign(n=x["n"] * 2)
'''


def _project(root: Path, x: str, name: str = "shop") -> Path:
    write_project(root, {"assets.py": ASSETS.format(x=x)}, name=name)
    for day in ("2024-01-01", "2024-01-02"):
        land_csv(root, f"landing/{day}.csv", [{"n": 1}, {"n": 2}])
    return root


def test_an_input_named_by_this_projects_key_is_the_bare_name_with_the_same_code_version(tmp_path):
    bare = load_project(_project(tmp_path / "bare", '"upstream"'))
    keyed = load_project(_project(tmp_path / "keyed", '"shop.upstream"'))
    explicit = load_project(_project(tmp_path / "explicit", 'weir.upstream("shop.upstream")'))
    for project in (bare, keyed, explicit):
        inp = project.assets["doubled"].inputs["x"]
        assert (inp.upstream, inp.key) == ("upstream", AssetKey("shop", "upstream"))
        assert project.upstreams("doubled") == ["upstream"]
    versions = {p.assets["doubled"].code_version for p in (bare, keyed, explicit)}
    assert versions == {"c8ba13a7e0385751"}  # as weir computed it before inputs had keys
    # the code version hashes the bare name, as before keys: partitions built then stay current
    assert bare.assets["doubled"].code_settings["inputs"]["x"][0] == "upstream"


def test_a_project_keyed_input_builds_as_the_bare_name_does(tmp_path):
    results = {}
    for label, x in (("bare", '"upstream"'), ("keyed", '"shop.upstream"')):
        project = _project(tmp_path / label, x)
        ws = tmp_path / f"ws-{label}"
        run = json.loads(weir_cli(ws, project, "run", "--executor", "inprocess", "--json").stdout)
        assert run["state"] == "succeeded"
        status = json.loads(weir_cli(ws, project, "status", "doubled", "--json").stdout)
        history = json.loads(weir_cli(ws, project, "history", "doubled", "--partition", "2024-01-01",
                                      "--json").stdout)
        results[label] = (status[0]["published"], status[0]["rows"], history[0]["code_version"])
    assert results["bare"] == results["keyed"]


def test_another_projects_key_is_refused_at_load_in_one_line_naming_file_asset_and_key(tmp_path):
    project = _project(tmp_path / "p", '"sales.orders"')
    with pytest.raises(ConfigError) as err:
        load_project(project)
    assert "not supported yet" in str(err.value)
    proc = weir_cli(tmp_path / "ws", project, "run", "--plan", expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(project / "assets.py") in lines[0]
    assert "'doubled'" in lines[0] and "'sales.orders'" in lines[0]
    assert "reading another project's assets is not supported yet" in lines[0]


def test_a_malformed_key_is_refused_at_load_naming_the_asset(tmp_path):
    proc = weir_cli(tmp_path / "ws", _project(tmp_path / "p", '"a.b.c"'), "run", "--plan", expect=2)
    assert "'doubled'" in proc.stderr and "'a.b.c'" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    project = _project(base / "shop", '"upstream"')
    ws = base / "ws"
    weir_cli(ws, project, "run", "--executor", "inprocess")
    return ws, project


@pytest.mark.parametrize("args", [
    ["status", "{a}"], ["history", "{a}", "--partition", "2024-01-01"], ["metrics", "{a}"], ["lineage", "{a}"],
    ["run", "{a}", "--plan", "--stale"],
])
def test_commands_take_this_projects_key_as_the_bare_name(built, args):
    ws, project = built
    bare = weir_cli(ws, project, *[a.format(a="doubled") for a in args], "--json").stdout
    keyed = weir_cli(ws, project, *[a.format(a="shop.doubled") for a in args], "--json").stdout
    assert json.loads(keyed) == json.loads(bare) and json.loads(bare)


@pytest.mark.parametrize("args", [["status", "sales.doubled"], ["history", "sales.doubled", "--partition", "2024-01-01"],
                                  ["metrics", "sales.doubled"], ["run", "sales.doubled"]])
def test_another_projects_key_on_the_command_line_is_one_line_and_exit_2(built, args):
    ws, project = built
    proc = weir_cli(ws, project, *args, expect=2)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "project 'sales'" in lines[0] and "not supported yet" in lines[0], proc.stderr


def test_json_names_assets_by_their_key_too(built):
    ws, project = built
    events = json.loads(weir_cli(ws, project, "events", "--json").stdout)
    published = [e for e in events if e["kind"] == "partition_published"]
    assert published and all(e["key"] == f"shop.{e['asset']}" for e in published)
    assert all(e["key"] is None for e in events if e["asset"] is None)
    lineage = json.loads(weir_cli(ws, project, "lineage", "--json").stdout)
    assert {n["name"]: n["key"] for n in lineage["nodes"]} == {
        "landing": "shop.landing", "upstream": "shop.upstream", "doubled": "shop.doubled"}
