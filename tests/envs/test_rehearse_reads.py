"""What a rehearsal reads and how it judges, in process: pinning a package at the version
installed rehearses in this environment, so the partitions differ from their published versions
only by what changed since (data upstream, code), which the rehearsal must tell apart."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest
from conftest import weir_cli, write_project

ASSETS = '''
from pathlib import Path

import pandas as pd
import weir

HERE = Path(__file__).parent
days = weir.daily(start="2024-01-01", end="2024-01-02")


@weir.asset(partitions=days, key=["trip"], checks=[weir.checks.in_range("miles", max=15)])
def trips(context):
    factor = float((HERE / "factor.txt").read_text())
    return pd.DataFrame({"trip": [1, 2], "miles": [10.0 * factor, 2.5 * factor]})


@weir.asset(partitions=days, key=["trip"], checks=[weir.checks.in_range("km", max=20, severity="warn"),
                                                   weir.checks.in_range("km", max=1000, name="plausible_km")])
def distances(trips):
    return trips.assign(km=trips["miles"] * 1.609344)
'''
PIN = f"pyarrow=={version('pyarrow')}"  # what is installed: the rehearsal runs in this environment
DAY = "2024-01-02"


@pytest.fixture
def built(tmp_path):
    project = write_project(tmp_path / "trips", {"assets.py": ASSETS, "factor.txt": "1"}, name="trips")
    home = tmp_path / "ws"
    weir_cli(home, project, "run")
    return home, project


def cli_json(home, project, *args, expect=0):
    return json.loads(weir_cli(home, project, *args, "--json", expect=expect).stdout)


def recorded(home, project) -> dict:
    """What a rehearsal must not touch: table versions and files, published partitions, runs,
    events, check results, metrics."""
    from deltalake import DeltaTable

    return {
        "versions": {a: DeltaTable(str(home / "data" / "trips" / a)).version() for a in ("trips", "distances")},
        "files": sorted(str(f.relative_to(home)) for f in (home / "data").rglob("*")),  # not one staged file more
        "status": cli_json(home, project, "status"),
        "runs": cli_json(home, project, "runs", "--limit", "100"),
        "events": cli_json(home, project, "events", "--limit", "100000"),
        "checks": cli_json(home, project, "checks"),
        "metrics": cli_json(home, project, "metrics", "distances"),
    }


def by_asset(r: dict) -> dict[str, dict]:
    return {p["asset"]: p for p in r["partitions"]}


def test_a_partition_reads_what_its_published_version_read_and_a_rehearsed_upstream_from_its_shadow(built):
    home, project = built
    (project / "factor.txt").write_text("2")
    weir_cli(home, project, "run", "trips", "--partition", DAY, expect=1)  # miles 20 > 15: published, an error check fails
    before = recorded(home, project)

    alone = cli_json(home, project, "rehearse", "--upgrade", PIN, "distances")
    assert alone["upgrades"] == [] and alone["environment"]["venv"] is None
    [p] = alone["partitions"]
    assert (p["partition"], p["verdict"], p["notes"]) == (DAY, "identical", [])  # trips at the version it read

    both = by_asset(cli_json(home, project, "rehearse", "--upgrade", PIN))
    assert both["trips"]["verdict"] == "identical"  # the check failed on the published version too: not news
    assert [(c["check"], c["published"]) for c in both["trips"]["checks"]] == [("in_range(miles)", "failed")]
    distances = both["distances"]
    assert distances["verdict"] == "changes output"  # it read the rehearsed trips, as a rebuild would
    assert distances["diff"]["columns"] == {"miles": 2, "km": 2}
    assert distances["notes"] == [f"its published version read trips '{DAY}' at version 0, since republished (version 1)"]
    assert "warn check in_range(km) fails: " in " ".join(distances["summary"])  # a warning: still "changes output"
    assert recorded(home, project) == before


def test_a_check_that_newly_fails_makes_the_partition_fail_and_a_code_change_is_noted(built):
    home, project = built
    before = recorded(home, project)
    (project / "assets.py").write_text(ASSETS.replace('trips["miles"] * 1.609344', 'trips["miles"] * 1609.344'))
    r = cli_json(home, project, "rehearse", "--upgrade", PIN, "distances", "--partition", DAY, expect=1)
    [p] = r["partitions"]
    assert (r["verdict"], p["verdict"], p["state"]) == ("fails", "fails", "built")
    assert [(c["check"], c["severity"], c["published"]) for c in p["checks"]] == [
        ("in_range(km)", "warn", "passed"), ("plausible_km", "error", "passed")]
    assert p["summary"] == ["check plausible_km (error) fails: " + p["checks"][1]["message"]]
    assert p["notes"] == ["its code changed since the published build: the diff shows that change too"]
    assert p["diff"]["changed"] == 2  # the diff is there for a failing partition that was built
    (project / "assets.py").write_text(ASSETS)  # status counts partitions of older code: as it was
    assert recorded(home, project) == before


def test_nothing_published_means_nothing_to_rehearse(tmp_path):
    project = write_project(tmp_path / "trips", {"assets.py": ASSETS, "factor.txt": "1"}, name="trips")
    out = weir_cli(tmp_path / "ws", project, "rehearse", "--upgrade", PIN, expect=2)
    assert out.stderr.strip().splitlines() == [
        "error: nothing to rehearse: the chosen assets have no published partition to compare with"]
    assert not (tmp_path / "ws" / "rehearsals").exists()


@pytest.mark.parametrize(("args", "said"), [
    ((), "say what to rehearse: --upgrade PKG==VERSION (repeatable) or --requirements FILE, not both"),
    (("--upgrade", "pyarrow>=1"), "'pyarrow>=1' is not one exact version: rehearse PKG==VERSION"),
    (("--upgrade", "weir==0.1"), "weir itself cannot be rehearsed: the running weir builds in every environment"),
    (("--upgrade", PIN, "--partition", "2024-01-01", "--from", "2024-01-01", "--to", DAY),
     "use either --partition or --from/--to, not both"),
])
def test_what_cannot_be_rehearsed_is_one_line_exit_2(built, args, said):
    home, project = built
    out = weir_cli(home, project, "rehearse", *args, expect=2)
    assert out.stderr.strip().splitlines() == [f"error: {said}"]
    assert not (home / "rehearsals").exists()


MEASURED = '''
import numpy as np
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-21")


@weir.asset(partitions=days)
def trips(context):
    rng = np.random.default_rng(int(context.partition_key.replace("-", "")))
    return pd.DataFrame({"miles": rng.normal(10.0, 1.0, 200)})
'''


def test_a_metric_outside_the_limits_the_monitors_judged_the_published_version_against_is_reported(tmp_path):
    project = write_project(tmp_path / "trips", {"assets.py": MEASURED}, name="trips")
    home = tmp_path / "ws"
    weir_cli(home, project, "run")
    (project / "assets.py").write_text(MEASURED.replace("rng.normal(10.0, 1.0, 200)", "rng.normal(10.0, 1.0, 200) * 1.609344"))
    [p] = cli_json(home, project, "rehearse", "--upgrade", PIN)["partitions"]
    assert (p["partition"], p["verdict"]) == ("2024-01-21", "changes output")
    mean = next(m for m in p["monitors"] if (m["column"], m["metric"]) == ("miles", "mean"))
    assert mean["value"] > mean["upper"] and mean["lower"] <= mean["published"] <= mean["upper"]
    assert any(s.startswith("monitors: miles mean ") and "is outside" in s for s in p["summary"])
    assert not any(m["column"] == "" and m["metric"] == "row_count" for m in p["monitors"])  # 200 rows as before


MODELLED = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-03")


@weir.asset(partitions=days)
def trips(context):
    day = int(context.partition_key[-2:])
    return pd.DataFrame({"miles": [1.0 * day, 2.0 * day, 3.0 * day], "minutes": [2.0 * day, 4.1 * day, 5.9 * day]})


@weir.model(features=["miles"], target="minutes", inputs={"train": weir.upstream("trips", weir.window("2024-01-01", "2024-01-02"))})
def pace(train):
    from sklearn.linear_model import LinearRegression
    return LinearRegression().fit(train[["miles"]], train["minutes"])


@weir.asset(partitions=days)
def predicted(pace, trips):
    return trips.assign(minutes_predicted=pace.predict(trips[["miles"]]))
'''


def test_models_are_rehearsed_only_when_named_and_what_reads_one_reads_the_published_model(tmp_path):
    project = write_project(tmp_path / "trips", {"assets.py": MODELLED}, name="trips")
    home = tmp_path / "ws"
    weir_cli(home, project, "run")
    r = cli_json(home, project, "rehearse", "--upgrade", PIN)
    assert [(p["asset"], p["partition"], p["verdict"]) for p in r["partitions"]] == [
        ("trips", "2024-01-03", "identical"), ("predicted", "2024-01-03", "identical")]
    named = cli_json(home, project, "rehearse", "--upgrade", PIN, "pace")
    [pace] = named["partitions"]
    assert (pace["asset"], pace["verdict"]) == ("pace", "identical")  # the same fit: the same artifact hash
    assert pace["notes"] == ["a model's rows are compared without artifact, run_id (where and by which build its "
                             "artifact is stored)"]
