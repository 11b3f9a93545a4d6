"""Environment snapshots as runs record them, and reading them back: ``weir envs``, ``weir envs
show``, ``weir envs diff``, ``weir deps``, ``weir env lock``; ``weir rebuild`` in this environment. Everything in process: the
earlier environment a run recorded is handed to it, as the rebuild in another one does."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from conftest import weir_cli, write_project

from weir.envs.snapshot import EnvironmentSnapshot, Origin, capture
from weir.workspace import RunRequest, Workspace

ASSETS = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-03")


@weir.asset(partitions=days)
def trips(context):
    return pd.DataFrame({"day": [context.partition_key] * 2, "miles": [10.0, 2.5]})


@weir.asset(partitions=days)
def distances(trips):
    return trips.assign(km=trips["miles"] * 1.609344)


@weir.asset(partitions=days)
def totals(distances):
    return distances.groupby("day", as_index=False)["km"].sum()


board = weir.insight("board", depends_on=["totals"], owners=["ops@example.com"])
'''


def test_origins_are_read_from_pep_610_direct_urls():
    wheel = Origin.from_direct_url('{"url": "file:///w/units-1.0-py3-none-any.whl", "archive_info": {}}')
    assert (wheel.kind, wheel.url) == ("file", "file:///w/units-1.0-py3-none-any.whl")
    vcs = Origin.from_direct_url('{"url": "https://git.example/u.git", "vcs_info": {"vcs": "git", "commit_id": "abc1"}}')
    assert (vcs.kind, vcs.url, vcs.commit) == ("vcs", "git+https://git.example/u.git", "abc1")
    editable = Origin.from_direct_url('{"url": "file:///src/u", "dir_info": {"editable": true}}')
    assert (editable.kind, editable.editable) == ("dir", True)
    assert Origin.from_direct_url(None) == Origin() == Origin.from_direct_url("not json")
    assert Origin.from_direct_url('{"url": "https://files.example/u-1.0.tar.gz", "archive_info": {}}').kind == "url"
    assert Origin.from_direct_url(None, site="/shared").describe() == "the index, through /shared"


def test_the_snapshot_is_content_addressed_by_python_platform_and_pins_with_their_origins():
    here = capture()
    assert here.interpreter and here.weir and "weir" not in here.packages
    assert here.packages["deltalake"] and here.origin("deltalake").kind == "index"
    assert capture().id == here.id
    moved = dataclasses.replace(here, origins={**here.origins, "deltalake": Origin(kind="file", url="file:///w/d.whl")})
    assert moved.id != here.id
    elsewhere = dataclasses.replace(here, interpreter="/elsewhere/bin/python", weir="9.9")
    assert elsewhere.id == here.id  # paths and weir's own version do not make another environment
    assert EnvironmentSnapshot.from_row(here.to_row()) == here


@dataclasses.dataclass(frozen=True)
class Built:
    home: Path
    project: Path
    first: str  # the run in this environment
    second: str  # the run in the later one
    here: EnvironmentSnapshot
    later: EnvironmentSnapshot


@pytest.fixture(scope="module")
def two_environments(tmp_path_factory) -> Built:
    """A project built in this environment, then rebuilt in one with pandas a major version up and
    a package more."""
    root = tmp_path_factory.mktemp("envs")
    project = write_project(root / "project", {"assets.py": ASSETS})
    home = root / "ws"
    here = capture()
    later = dataclasses.replace(
        here, packages={**here.packages, "pandas": "99.0.0", "tiny-units": "2.0"},
        origins={**here.origins, "tiny-units": Origin(kind="file", url="file:///w/tiny_units-2.0-py3-none-any.whl")})
    with Workspace(home, project) as ws:
        first = ws.runs.run(RunRequest())
        second = ws.runs.run(RunRequest(assets=("distances",), partition="2024-01-02"), environment=later.to_row())
    return Built(home=home, project=project, first=first.run_id, second=second.run_id, here=here, later=later)


def test_a_run_records_where_every_package_came_from_and_diagnosis_reads_versions(two_environments):
    b = two_environments
    with Workspace(b.home, b.project) as ws, ws.store.read():
        run = ws.store.runs.get(b.second)
        row = ws.store.environments.get(run.environment_id)
    assert run.environment_id == b.later.id
    assert row["packages"]["pandas"] == "99.0.0"  # {name: version}, as the diagnosis of incidents reads it
    assert row["origins"]["tiny-units"]["kind"] == "file"
    assert row["interpreter"] == b.here.interpreter and row["weir_version"] == b.here.weir


def test_envs_lists_each_environment_with_its_runs_and_assets(two_environments):
    b = two_environments
    listed = json.loads(weir_cli(b.home, b.project, "envs", "--json").stdout)
    assert [e["id"] for e in listed] == [b.later.id, b.here.id]  # most recently used first
    newest, oldest = listed
    assert newest["runs"] == 1 and newest["last_run"] == b.second and newest["assets"] == ["demo.distances"]
    assert oldest["assets"] == ["demo.distances", "demo.totals", "demo.trips"] and oldest["projects"] == ["demo"]
    assert oldest["first_used"] <= oldest["last_used"] and oldest["packages"] == len(b.here.packages)
    assert "tiny-units" not in weir_cli(b.home, b.project, "envs").stdout  # the table: counts, not packages
    assert b.later.id in weir_cli(b.home, b.project, "envs").stdout


def test_envs_show_takes_an_id_a_prefix_or_a_run(two_environments):
    b = two_environments
    by_run = json.loads(weir_cli(b.home, b.project, "envs", "show", b.second, "--json").stdout)
    assert by_run["id"] == b.later.id and by_run["run_id"] == b.second
    assert {"name": "tiny-units", "version": "2.0", "origin": {
        "kind": "file", "url": "file:///w/tiny_units-2.0-py3-none-any.whl", "commit": None, "editable": False,
        "site": None}} in by_run["packages"]
    assert [r["id"] for r in by_run["run_list"]] == [b.second] and by_run["assets"] == ["demo.distances"]
    by_prefix = json.loads(weir_cli(b.home, b.project, "envs", "show", b.here.id[:6], "--json").stdout)
    assert by_prefix["id"] == b.here.id and by_prefix["run_id"] is None and by_prefix["runs"] == 1
    text = weir_cli(b.home, b.project, "envs", "show", b.second).stdout
    assert "tiny-units" in text and "tiny_units-2.0-py3-none-any.whl" in text
    missing = weir_cli(b.home, b.project, "envs", "show", "nothing-like-it", expect=2)
    assert "no environment or run 'nothing-like-it'" in missing.stderr


def test_envs_diff_names_the_packages_that_changed_and_flags_major_versions(two_environments):
    b = two_environments
    diff = json.loads(weir_cli(b.home, b.project, "envs", "diff", b.first, b.second, "--json").stdout)
    assert diff["from"] == {"id": b.here.id, "run_id": b.first} and diff["to"] == {"id": b.later.id, "run_id": b.second}
    changes = {p["package"]: p for p in diff["packages"]}
    assert set(changes) == {"pandas", "tiny-units"}
    assert changes["pandas"]["change"] == "upgraded" and changes["pandas"]["major"] is True
    assert changes["pandas"]["from"] == b.here.packages["pandas"] and changes["pandas"]["to"] == "99.0.0"
    assert changes["tiny-units"] == {"package": "tiny-units", "change": "added", "from": None, "to": "2.0",
                                     "major": False, "origin_from": None,
                                     "origin_to": "file:///w/tiny_units-2.0-py3-none-any.whl"}
    assert diff["python"] is None and diff["weir"] is None
    back = json.loads(weir_cli(b.home, b.project, "envs", "diff", b.later.id, b.here.id, "--json").stdout)
    assert {p["package"]: p["change"] for p in back["packages"]} == {"pandas": "downgraded", "tiny-units": "removed"}
    text = weir_cli(b.home, b.project, "envs", "diff", b.first, b.second).stdout
    assert "pandas" in text and "major" in text
    same = weir_cli(b.home, b.project, "envs", "diff", b.first, b.here.id).stdout
    assert "the same packages" in same


def test_the_same_version_from_another_wheel_is_a_change(two_environments):
    b = two_environments
    rebuilt = dataclasses.replace(b.later, origins={**b.later.origins, "tiny-units": Origin(
        kind="file", url="file:///elsewhere/tiny_units-2.0-py3-none-any.whl")})
    with Workspace(b.home, b.project) as ws, ws.store.transaction():
        ws.store.environments.save(rebuilt.to_row())
    diff = json.loads(weir_cli(b.home, b.project, "envs", "diff", b.second, rebuilt.id, "--json").stdout)
    assert [(p["package"], p["change"], p["origin_to"]) for p in diff["packages"]] == [
        ("tiny-units", "origin changed", "file:///elsewhere/tiny_units-2.0-py3-none-any.whl")]


def test_deps_names_the_assets_built_with_each_version_and_the_insights_resting_on_them(two_environments):
    b = two_environments
    mine = b.here.packages["pandas"]
    d = json.loads(weir_cli(b.home, b.project, "deps", "pandas", "--json").stdout)
    rows = {(a["asset"], a["version"]): a for a in d["assets"]}
    assert set(rows) == {("distances", mine), ("distances", "99.0.0"), ("totals", mine), ("trips", mine)}
    assert rows[("distances", mine)]["partitions"] == 2 and rows[("distances", "99.0.0")]["partitions"] == 1
    assert rows[("totals", mine)]["insights"] == ["board"] and rows[("distances", "99.0.0")]["insights"] == ["board"]
    assert rows[("trips", mine)]["kind"] == "asset" and rows[("trips", mine)]["last_published"].endswith("+00:00")
    assert d["packages"] == [{"package": "pandas", "versions": {mine: {"assets": 3, "partitions": 8},
                                                                 "99.0.0": {"assets": 1, "partitions": 1}},
                              "projects_on_several": {"demo": sorted([mine, "99.0.0"])}}]
    major = json.loads(weir_cli(b.home, b.project, "deps", "pandas>=99", "--json").stdout)
    assert major["spec"] == ">=99" and [(a["asset"], a["version"]) for a in major["assets"]] == [("distances", "99.0.0")]
    every = json.loads(weir_cli(b.home, b.project, "deps", "--json").stdout)
    assert every["assets"] == [] and {p["package"] for p in every["packages"]} >= {"pandas", "deltalake", "tiny-units"}
    text = weir_cli(b.home, b.project, "deps").stdout
    assert "pandas" in text and "more than one version in demo" in text and "deltalake" not in text
    assert "not a package name" in weir_cli(b.home, b.project, "deps", "pandas<<2", expect=2).stderr


def test_env_lock_writes_the_pins_of_this_environment(two_environments, tmp_path):
    b = two_environments
    written = json.loads(weir_cli(b.home, b.project, "env", "lock", "--out", str(tmp_path / "weir.lock"), "--json").stdout)
    here = capture()
    assert written == {"path": str(tmp_path / "weir.lock"), "id": here.id, "python": here.python,
                       "packages": len(here.packages)}
    lines = (tmp_path / "weir.lock").read_text().splitlines()
    assert lines[0].startswith(f"# weir.lock: environment {here.id}")
    assert f"deltalake=={here.packages['deltalake']}" in lines and not any(ln.startswith("weir==") for ln in lines)
    weir_cli(b.home, b.project, "env", "lock")
    assert (b.project / "weir.lock").read_text().splitlines()[3:] == lines[3:]


def test_rebuild_builds_the_partitions_and_with_downstream_what_depends_on_them(tmp_path, make_project):
    project = make_project({"assets.py": ASSETS})
    home = tmp_path / "ws"
    weir_cli(home, project, "run")
    out = json.loads(weir_cli(home, project, "rebuild", "distances", "--partition", "2024-01-02", "--json").stdout)
    assert out["state"] == "succeeded" and out["environment"] is None and len(out["runs"]) == 1
    assert out["runs"][0]["assets"] == {"distances": {"succeeded": 1}}
    both = json.loads(weir_cli(home, project, "rebuild", "distances", "--from", "2024-01-02", "--to", "2024-01-03",
                               "--downstream", "--json").stdout)
    assert both["runs"][0]["assets"] == {"distances": {"succeeded": 2}, "totals": {"succeeded": 2}}
    runs = json.loads(weir_cli(home, project, "runs", "--json").stdout)
    assert [r["trigger"] for r in runs] == ["rebuild", "rebuild", "cli"]
    assert runs[0]["environment_id"] == capture().id
    # the environment of a run in this very environment: nothing to make, one run in process
    same = json.loads(weir_cli(home, project, "rebuild", "distances", "--partition", "2024-01-01", "--downstream",
                               "--env-of", runs[-1]["id"], "--json").stdout)
    assert same["environment"] == {"requested": capture().id, "run_id": runs[-1]["id"], "used": capture().id,
                                   "same": True, "differences": [], "python": None, "venv": None}
    assert [r["assets"] for r in same["runs"]] == [{"distances": {"succeeded": 1}, "totals": {"succeeded": 1}}]
    assert not (home / "envs").exists()


@pytest.mark.parametrize(("args", "said"), [
    (["distances"], "say which partitions to rebuild"),
    (["distances", "--partition", "2024-01-02", "--env-of", "r", "--env", "e"], "either --env-of RUN or --env ID"),
    (["nowhere", "--partition", "2024-01-02"], "unknown asset 'nowhere'"),
    (["distances", "--partition", "2024-01-02", "--env-of", "no-such-run"], "no environment or run 'no-such-run'"),
])
def test_a_rebuild_asked_wrongly_is_one_line_and_changes_nothing(two_environments, args, said):
    b = two_environments
    before = weir_cli(b.home, b.project, "runs", "--json").stdout
    failed = weir_cli(b.home, b.project, "rebuild", *args, expect=2)
    assert said in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    assert weir_cli(b.home, b.project, "runs", "--json").stdout == before
    assert not (Path(b.home) / "envs").exists()


def test_snapshots_kept_before_origins_were_recorded_still_read(tmp_path, monkeypatch, make_project):
    """A store at revision 0013 (before migration 0016) with a snapshot of the old shape: the
    migration keeps it, and it reads as every package from the index, under its old id."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from weir.store import database

    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    home.mkdir()
    engine = sa.create_engine(database.database_url(home, os.environ.get("WEIR_DATABASE_URL")))
    with engine.connect() as c:
        config = Config()
        config.set_main_option("script_location", str(Path(database.__file__).parent / "migrations"))
        config.attributes["connection"] = c
        command.upgrade(config, "0013")
        c.execute(sa.text("INSERT INTO environments (id, python, platform, created_at, packages) "
                          "VALUES ('0ld5nap5h0t00000', '3.11.7 (cpython)', 'Linux', 1.0, :p)"),
                  {"p": json.dumps({"pandas": "1.5.3"})})
        c.commit()
    engine.dispose()
    project = make_project({"assets.py": ASSETS})
    shown = json.loads(weir_cli(home, project, "envs", "show", "0ld5nap5h0t00000", "--json").stdout)
    assert shown["packages"] == [{"name": "pandas", "version": "1.5.3", "origin": {
        "kind": "index", "url": None, "commit": None, "editable": False, "site": None}}]
    assert shown["interpreter"] is None and shown["weir"] is None and shown["runs"] == 0
    weir_cli(home, project, "run", "trips", "--partition", "2024-01-01")
    diff = json.loads(weir_cli(home, project, "envs", "diff", "0ld5nap5h0t00000", capture().id, "--json").stdout)
    changes = {p["package"]: p["change"] for p in diff["packages"]}
    assert changes["pandas"] == "upgraded" and "origin changed" not in changes.values()  # it knew no origins
