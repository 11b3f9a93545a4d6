"""A library upgrade built for three days, end to end with real parts (a project venv made with
uv, two wheels of a tiny package, real ``weir`` processes): one incident whose cause is the
library and whose scope holds every day built under it and what was built from them; the fix it
prints (``weir incidents fix``: a rebuild of every day in the environment of the last good build)
restores the published data exactly; the incident resolves, and the insight is trusted, only then;
the diagnosis read after resolution is the one told at opening."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from envs.test_rebuild_env import PACKAGE, Story

pytestmark = pytest.mark.slow  # real venvs, real uv, real worker processes

ASSETS = '''
import numpy as np
import pandas as pd
import weir
import weirtest_units

days = weir.daily(start="2024-01-01", end="2024-03-31")


@weir.asset(partitions=days)
def trips(context):
    rng = np.random.default_rng(int(context.partition_key.replace("-", "")))
    return pd.DataFrame({"day": [context.partition_key] * 40, "miles": rng.gamma(4.0, 3.0, 40).round(3)})


@weir.asset(partitions=days)
def distances(trips):
    return trips.assign(km=trips["miles"].map(weirtest_units.km))


@weir.asset(partitions=days)
def totals(distances):
    return distances.groupby("day", as_index=False)["km"].sum()


fleet_report = weir.insight("fleet_report", depends_on=["totals"], owners=["fleet@example.com"])
'''
START = dt.date(2024, 1, 1)
DAYS = 40


def key(i: int) -> str:
    return (START + dt.timedelta(days=i)).isoformat()


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Story:
    return Story(tmp_path_factory.mktemp("library-fault"), assets=ASSETS, name="fleet")


def totals(story: Story, i: int) -> float:
    rows = json.loads(story.weir("read", "totals", "--partition", key(i), "--format", "json").stdout)
    return rows[0]["km"]


def test_an_upgrade_built_for_three_days_is_one_incident_fixed_by_rebuilding_every_day_in_the_last_good_env(story):
    story.weir("run", "--from", key(0), "--to", key(DAYS - 1))
    assert story.json("incidents") == []
    good = {i: totals(story, i) for i in range(DAYS - 3, DAYS)}
    story.install(story.v2)
    for i in range(DAYS, DAYS + 3):  # three daily deliveries built under 2.0
        story.weir("run", "--partition", key(i), expect=None)
    [incident] = story.json("incidents")
    shown = story.json("incidents", "show", str(incident["id"]))
    assert shown["cause"]["kind"] == "library" and shown["cause"]["packages"] == {PACKAGE: "2.0"}
    scope = {(r["asset"], r["partition"]) for r in shown["scope"]}
    assert {(a, key(i)) for a in ("distances", "totals") for i in range(DAYS, DAYS + 3)} <= scope
    [report] = story.json("trust")
    assert report["status"] == "suspect" and report["trusted_through"] == key(DAYS - 1)
    [rebuild] = [s for s in shown["fix"] if s["kind"] == "rebuild"]
    assert (rebuild["asset"], rebuild["first"], rebuild["last"]) == ("distances", key(DAYS), key(DAYS + 2))
    assert rebuild["env_of"] and f"--env-of {rebuild['env_of']}" in rebuild["command"]

    fixed = story.json("incidents", "fix", str(incident["id"]))
    assert (fixed["state"], fixed["left"]) == ("resolved", 0)
    for i in range(DAYS, DAYS + 3):  # what 1.0 makes: miles x 1.609344, summed
        miles = [r["miles"] for r in json.loads(story.weir("read", "trips", "--partition", key(i), "--format", "json").stdout)]
        assert totals(story, i) == pytest.approx(sum(m * 1.609344 for m in miles))
    assert {i: totals(story, i) for i in range(DAYS - 3, DAYS)} == good  # history untouched
    after = story.json("incidents", "show", str(incident["id"]))
    assert after["diagnosis"] == shown["diagnosis"]  # the story as told at opening
    [report] = story.json("trust")
    assert report["status"] == "trusted" and report["trusted_through"] == key(DAYS + 2)
    assert any(s["kind"] == "pin" and f"{PACKAGE}==1.0" in s["command"] for s in fixed["steps"])
    story.weir("run", "--partition", key(DAYS + 3), expect=None)  # 2.0 still installed: the same fault again
    [again] = story.json("incidents")
    assert again["id"] == incident["id"] and again["state"] == "open" and again["reopened"] == 1
