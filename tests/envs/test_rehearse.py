"""Upgrade rehearsal, end to end with real parts: the project of the library-upgrade story runs on
weirtest-units 1.0; ``weir rehearse`` tries 2.0 (metres by mistake) and 3.0 (broken) on its
published partitions in a shadow venv made with uv, reports how each output changes or why it
fails, and publishes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_rebuild_env import PACKAGE, Story, write_wheel

pytestmark = pytest.mark.slow  # real venvs, real uv, real worker processes

ASSETS = '''
import pandas as pd
import weir
import weirtest_units

days = weir.daily(start="2024-01-01", end="2024-01-03")


@weir.asset(partitions=days, key=["day", "trip"])
def trips(context):
    return pd.DataFrame({"day": [context.partition_key] * 2, "trip": [1, 2], "miles": [10.0, 2.5]})


@weir.asset(partitions=days, key=["day", "trip"], checks=[weir.checks.not_null("km")])
def distances(trips):
    return trips.assign(km=trips["miles"].map(weirtest_units.km))


@weir.asset(partitions=days)
def totals(distances):
    return distances.groupby("day", as_index=False)["km"].sum()
'''
BROKEN = '''def km(miles):
    raise ValueError("the unit table is missing")
'''
NEWEST = "2024-01-03"
ASSETS_BUILT = ("trips", "distances", "totals")


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Story:
    s = Story(tmp_path_factory.mktemp("rehearse"))
    (s.project / "assets.py").write_text(ASSETS)
    write_wheel(s.wheels, PACKAGE, "3.0", {"weirtest_units/__init__.py": BROKEN})
    assert s.json("run")["state"] == "succeeded"
    return s


def published(story: Story) -> dict:
    """Everything a rehearsal must leave as it was: each table's Delta version, the published
    partitions and their history, the runs, the events, the incidents."""
    from deltalake import DeltaTable

    return {
        "versions": {a: DeltaTable(str(story.home / "data" / "trips" / a)).version() for a in ASSETS_BUILT},
        "status": story.json("status"),
        "history": {a: story.json("history", a, "--partition", NEWEST) for a in ASSETS_BUILT},
        "runs": story.json("runs", "--limit", "100"),
        "events": story.json("events", "--limit", "100000"),
        "incidents": story.json("incidents"),
        "totals": story.weir("read", "totals", "--partition", NEWEST, "--format", "json").stdout,
    }


def by_asset(rehearsal: dict) -> dict[str, dict]:
    return {p["asset"]: p for p in rehearsal["partitions"]}


def test_an_upgrade_rehearsed_shows_how_the_output_changes_and_publishes_nothing(story):
    before = published(story)
    assert before["incidents"] == []

    r = story.json("rehearse", "--upgrade", f"{PACKAGE}==2.0")
    assert r["verdict"] == "changes output"
    assert r["counts"] == {"identical": 1, "changes output": 2, "fails": 0}
    assert [(u["package"], u["change"], u["from"], u["to"], u["major"]) for u in r["upgrades"]] == [
        (PACKAGE, "upgraded", "1.0", "2.0", True)]
    assert r["upgrades"][0]["origin_to"].endswith(f"{PACKAGE.replace('-', '_')}-2.0-py3-none-any.whl")  # found beside 1.0's
    env = r["environment"]
    assert env["shadow"] != env["current"] and env["used"] == env["shadow"] and env["same"] is True
    assert Path(env["venv"]["path"]) == story.home / "envs" / env["shadow"]  # the venv cache rebuilds use

    parts = by_asset(r)
    assert {a: (p["partition"], p["verdict"]) for a, p in parts.items()} == {
        "trips": (NEWEST, "identical"), "distances": (NEWEST, "changes output"), "totals": (NEWEST, "changes output")}
    distances = parts["distances"]
    diff = distances["diff"]
    assert diff["key"] == ["day", "trip"] and diff["schema"] == {"added": [], "removed": [], "retyped": []}
    assert (diff["rows"], diff["added"], diff["removed"], diff["changed"], diff["columns"]) == (
        {"before": 2, "after": 2}, 0, 0, 2, {"km": 2})
    first = diff["sample"]["changed"][0]
    assert first["key"] == {"day": NEWEST, "trip": 1} and list(first["values"]) == ["km"]
    assert first["values"]["km"]["before"] == pytest.approx(16.09344)
    assert first["values"]["km"]["after"] == pytest.approx(16093.44)
    mean = next(m for m in distances["metrics"] if (m["column"], m["metric"]) == ("km", "mean"))
    assert mean["relative"] == pytest.approx(999.0)
    assert "km changed in 2 of 2 rows" in distances["summary"][0]
    assert distances["checks"] == [] and distances["published_version"] == before["history"]["distances"][0]["version"]
    totals = parts["totals"]["diff"]  # no key: rows compared as multisets; it read the rehearsed distances
    assert totals["key"] is None and (totals["added"], totals["removed"]) == (1, 1)
    assert totals["sample"]["added"][0]["km"] == pytest.approx(12.5 * 1609.344)

    # nothing published, nothing recorded: the shadow output lives under the rehearsal's folder
    assert published(story) == before
    folder = Path(r["path"])
    assert folder.parent == story.home / "rehearsals" and Path(distances["output"]).is_relative_to(folder)
    assert json.loads((folder / "rehearsal.json").read_text()) == r

    shown = story.weir("rehearse", "--upgrade", f"{PACKAGE}==2.0", "distances").stdout
    assert "changes output" in shown and "km changed in 2 of 2 rows" in shown and "day=2024-01-03, trip=1" in shown
    assert "reused at" in shown  # the shadow venv is made once


def test_rehearsing_the_version_installed_reports_identical_outputs(story):
    r = story.json("rehearse", "--upgrade", f"{PACKAGE}==1.0", "distances", "--partition", "2024-01-02")
    assert r["verdict"] == "identical" and r["upgrades"] == []
    assert r["environment"]["venv"] is None  # built in this environment: nothing to make
    assert [(p["asset"], p["partition"], p["verdict"], p["diff"]["changed"]) for p in r["partitions"]] == [
        ("distances", "2024-01-02", "identical", 0)]


def test_a_version_that_breaks_the_build_fails_and_what_reads_it_fails_too(story):
    before = published(story)
    pins = story.root / "upgrade.txt"
    pins.write_text(f"--find-links {story.wheels.name}\n{PACKAGE}==3.0  # the next release\n")
    proc = story.weir("rehearse", "--requirements", str(pins), "distances", "totals", "--from", "2024-01-02",
                      "--to", NEWEST, "--json", expect=1)
    r = json.loads(proc.stdout)
    assert r["verdict"] == "fails" and r["counts"]["fails"] == 4
    states = {(p["asset"], p["partition"]): (p["state"], p["summary"][0]) for p in r["partitions"]}
    assert states[("distances", NEWEST)] == ("failed", "failed: ValueError: the unit table is missing")
    assert states[("totals", NEWEST)] == ("upstream_failed", f"upstream failed: distances '{NEWEST}' failed")
    assert published(story) == before


def test_a_version_that_cannot_be_obtained_fails_with_one_line_and_changes_nothing(story):
    before = published(story)
    made = sorted(p.name for p in (story.home / "envs").iterdir())
    rehearsals = sorted(p.name for p in (story.home / "rehearsals").iterdir())
    proc = story.weir("rehearse", "--upgrade", f"{PACKAGE}==9.9", expect=2, env={"UV_OFFLINE": "1"})
    assert proc.stderr.strip().splitlines() == [
        f"error: {PACKAGE} 9.9 cannot be obtained from the index: {PACKAGE} was not found in the cache"]
    assert sorted(p.name for p in (story.home / "envs").iterdir()) == made
    assert sorted(p.name for p in (story.home / "rehearsals").iterdir()) == rehearsals
    assert published(story) == before
