"""Diagnosis ranking on real runs that change exactly one thing between a good build and a bad
one: the data delivered, the asset's body, a library the asset imports, its checks, its input
mapping, weir.toml. Each names the right cause first and says whether the pipeline broke or the
world changed. A daily source ``raw`` and an asset ``clean`` that blocks values outside [0, 1000]."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
from conftest import land_csv

from weir.workspace import RunRequest, Workspace

START = dt.date(2024, 1, 1)
CHECK = 'weir.checks.in_range("value", min=0, max=1000, severity="block")'
BODY = "def clean(raw):\n    return raw\n"
PROJECT = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days, checks=[CHECK])
BODY'''


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


def write(project: Path, *, check: str = CHECK, body: str = BODY) -> None:
    (project / "assets.py").write_text(PROJECT.replace("CHECK", check).replace("BODY", body))


def land(project: Path, i: int, *, shift: float = 0.0) -> None:
    values = np.random.default_rng(100 + i).normal(100, 10, 60) + shift
    land_csv(project, f"landing/{key(i)}.csv", [{"id": j, "value": round(float(v), 3)} for j, v in enumerate(values)])


def deliver(ws: Workspace, project: Path, days: range, **fault: float) -> None:
    """Land, check and build each day in turn, as production does; ``fault`` goes to the last day."""
    for i in days:
        land(project, i, **(fault if i == days[-1] else {}))
        ws.quality.ingest("raw", [key(i)])
        ws.pump()
        ws.runs.run(RunRequest(executor="inprocess", stale=True))
        ws.pump()


def started(make_project, workspace_dir, days: int = 2) -> tuple[Path, Path]:
    project = make_project({"assets.py": ""})
    write(project)
    with Workspace(workspace_dir, project) as ws:
        deliver(ws, project, range(days))
    return project, workspace_dir


def test_a_delivery_that_moves_is_the_input_data_and_the_world_changed(make_project, workspace_dir):
    project, home = started(make_project, workspace_dir, days=25)
    with Workspace(home, project) as ws:
        deliver(ws, project, range(25, 26), shift=25.0)  # every value a quarter higher: nothing else moves
        d = ws.incidents.diagnose("clean", key(25))
        [incident] = ws.incidents.list()
        root = ws.incidents.show(incident["id"])["diagnosis"]
    assert d["causes"][0]["kind"] == "input data" and d["inputs"][0]["asset"] == "raw"
    assert (d["code"], d["config"], d["packages"]) == (None, None, [])
    assert d["classification"]["verdict"] == "the world changed"
    assert (root["asset"], root["causes"][0]["kind"]) == ("raw", "data")  # the delivery itself: only its data moved
    assert root["classification"]["verdict"] == "the world changed"


def test_an_edited_asset_body_is_the_code_and_the_pipeline_broke(make_project, workspace_dir):
    project, home = started(make_project, workspace_dir)
    write(project, body="def clean(raw):\n    raw['value'] = raw['value'] * 1000\n    return raw\n")
    with Workspace(home, project) as ws:
        deliver(ws, project, range(2, 3))
        d = ws.incidents.diagnose("clean", key(2))
    assert d["build"]["state"] == "blocked"
    assert [c["kind"] for c in d["causes"]][:1] == ["code"] and d["config"] is None
    assert any("* 1000" in line for line in d["code"]["diff"])
    assert d["classification"]["verdict"] == "the pipeline broke"


def _site(root: Path, version: str, factor: int) -> Path:
    """A folder with one installed distribution, ``unitconv`` (as ``pip install --target`` leaves it)."""
    site = root / f"site-{version}"
    info = site / f"unitconv-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: unitconv\nVersion: {version}\n")
    (site / "unitconv.py").write_text(f"FACTOR = {factor}\n")
    return site


def test_an_upgraded_library_is_the_library_and_the_pipeline_broke(make_project, workspace_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(_site(tmp_path, "1.4.0", 1)))
    project = make_project({"assets.py": ""})
    write(project, body="def clean(raw):\n    import unitconv\n\n    raw['value'] = raw['value'] * unitconv.FACTOR\n"
                        "    return raw\n")
    with Workspace(workspace_dir, project) as ws:
        deliver(ws, project, range(2))
    # the next day runs in an environment where unitconv 2.0 (now in grams, not kilograms) is installed
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-1.4.0" not in p])
    monkeypatch.syspath_prepend(str(_site(tmp_path, "2.0.0", 1000)))
    monkeypatch.delitem(sys.modules, "unitconv")
    with Workspace(workspace_dir, project) as ws:
        deliver(ws, project, range(2, 3))
        d = ws.incidents.diagnose("clean", key(2))
    assert d["build"]["state"] == "blocked" and d["build"]["environment_id"] != d["last_good"]["environment_id"]
    assert d["packages"] == [{"package": "unitconv", "change": "upgraded", "from": "1.4.0", "to": "2.0.0", "major": True}]
    assert (d["code"], d["config"]) == (None, None)
    assert d["causes"][0]["kind"] == "library"
    assert f"weir rebuild clean --partition {d['partition']} --downstream --env-of {d['last_good']['run_id']}" in d["causes"][0]["fix"]
    assert d["classification"]["verdict"] == "the pipeline broke"


def test_a_tightened_check_is_the_configuration_and_the_pipeline_broke(make_project, workspace_dir):
    project, home = started(make_project, workspace_dir)
    write(project, check='weir.checks.in_range("value", min=0, max=50, severity="block")')
    with Workspace(home, project) as ws:
        deliver(ws, project, range(2, 3))
        d = ws.incidents.diagnose("clean", key(2))
    assert d["build"]["state"] == "blocked" and d["code"] is None
    [change] = d["config"]["changes"]
    assert change == {"setting": "checks", "removed": ["in_range(value): column='value', min=0, max=1000, severity='block'"],
                      "added": ["in_range(value): column='value', min=0, max=50, severity='block'"]}
    first = d["causes"][0]
    assert first["kind"] == "configuration" and "the check that failed (in_range(value)) is one that changed" in first["summary"]
    assert first["fix"].startswith("revert clean's checks") and "accept it" in first["fix"]
    assert d["classification"]["verdict"] == "the pipeline broke" and "configuration changed (checks)" in d["classification"]["why"]


def test_a_changed_input_mapping_is_the_configuration_not_the_code(make_project, workspace_dir):
    project, home = started(make_project, workspace_dir, days=3)
    text = (project / "assets.py").read_text().replace("checks=[", 'inputs={"raw": weir.upstream("raw", mapping=weir.previous())}, checks=[')
    (project / "assets.py").write_text(text)
    with Workspace(home, project) as ws:
        ws.runs.run(RunRequest(executor="inprocess", assets=("clean",), partition=key(2)))
        ws.pump()
        d = ws.incidents.diagnose("clean", key(2))
    assert d["build"]["code_version"] != d["last_good"]["code_version"] and d["code"] is None
    assert [c["setting"] for c in d["config"]["changes"]] == ["inputs"]
    assert d["causes"][0]["kind"] == "configuration" and "weir monitors accept clean" in d["causes"][0]["fix"]
    assert d["classification"]["verdict"] == "the pipeline broke"


def test_a_weir_toml_change_is_shown_but_ranks_below_the_data_it_cannot_decide(make_project, workspace_dir):
    project, home = started(make_project, workspace_dir)
    (project / "weir.toml").write_text('[project]\nname = "demo"\n\n[defaults]\nowners = ["data@example.com"]\n')
    with Workspace(home, project) as ws:
        ws.runs.run(RunRequest(executor="inprocess", assets=("clean",), partition=key(1)))
        ws.pump()
        d = ws.incidents.diagnose("clean", key(1))
    [change] = d["config"]["changes"]
    assert change["setting"] == "weir.toml" and change["added"] == ["", "[defaults]", 'owners = ["data@example.com"]']
    assert [c["kind"] for c in d["causes"]] == ["data", "configuration"]
    assert d["classification"]["verdict"] == "the world changed"


def test_narrowed_monitor_limits_are_the_configuration_when_the_partition_alerts(make_project, workspace_dir):
    project, home = started(make_project, workspace_dir, days=25)
    text = (project / "assets.py").read_text().replace(
        "checks=[", 'monitors=[weir.monitor("mean", column="value", model="classic", sigma=0.01)], checks=[')
    (project / "assets.py").write_text(text)
    with Workspace(home, project) as ws:
        deliver(ws, project, range(25, 26))  # an ordinary day: only the limits it is judged by moved
        d = ws.incidents.diagnose("clean", key(25))
    assert d["moved"] and d["inputs"] == [] and d["code"] is None
    assert d["config"]["changes"] == [{"setting": "monitors", "removed": [],
                                       "added": ["monitor: metric='mean', column='value', sigma=0.01, model='classic'"]}]
    assert d["causes"][0]["kind"] == "configuration" and "weir monitors replay clean" in d["causes"][0]["fix"]
    assert d["classification"]["verdict"] == "the pipeline broke"
