"""Scenarios are declared in Python or in scenarios.yml and checked when the project loads: a
name that is not the project's, a bad cron schedule, an unknown step or route is one line at
file:line, exit 2."""

from __future__ import annotations

import json

import pytest
from conftest import weir_cli as weir

from weir.errors import ConfigError
from weir.project.loader import load_project

TOML = '''
[project]
name = "demo"
modules = ["assets"]

[alerts.routes.team]
channel = "file"
audience = "team"
path = "outbox/team.jsonl"
'''
ASSETS = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-01-31")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def clean(raw):
    return raw


def announce(context):
    return context.tick["id"]


nightly = weir.scenario(
    "nightly",
    triggers=[weir.triggers.cron("0 3 * * *", timezone="Europe/Paris")],
    steps=[weir.steps.build("clean"), weir.steps.call(announce)],
    reporters=[weir.reporter("team", on=["failed"])],
)
'''
YAML = '''
on_landing:
  description: a day arrives
  triggers:
    - landed: {sources: [raw], debounce: 2s}
  steps:
    - ingest: {sources: [raw]}
    - build: {stale: true}
    - diagnose
    - call: {function: "assets:announce", resumable: true}
  reporters:
    - {route: team, on: [failed, incident_opened]}
paused:
  enabled: false
  steps:
    - check: {asset: clean, partition: "2024-01-02"}
'''


@pytest.fixture
def project(make_project):
    return make_project({"weir.toml": TOML, "assets.py": ASSETS, "scenarios.yml": YAML})


def test_scenarios_from_python_and_yaml_load_with_their_triggers_steps_and_reporters(project):
    loaded = load_project(project)
    assert sorted(loaded.scenarios) == ["nightly", "on_landing", "paused"]
    landing = loaded.scenarios["on_landing"]
    assert [t.kind for t in landing.triggers] == ["landed"] and landing.triggers[0].debounce == 2.0
    assert [s.kind for s in landing.steps] == ["ingest", "build", "diagnose", "call"]
    assert landing.steps[3].resumable and landing.steps[3].function.__name__ == "announce"
    assert landing.reporters[0].on == ("failed", "incident_opened")
    assert loaded.scenarios["paused"].enabled is False and loaded.scenarios["nightly"].project == "demo"


def test_weir_scenarios_lists_them(project, workspace_dir):
    rows = {r["name"]: r for r in json.loads(weir(workspace_dir, project, "scenarios", "--json").stdout)}
    assert rows["nightly"]["triggers"] == [{"kind": "cron", "describe": "cron '0 3 * * *' (Europe/Paris)",
                                            "schedule": "0 3 * * *", "timezone": "Europe/Paris"}]
    assert [s["kind"] for s in rows["nightly"]["steps"]] == ["build", "call"]
    assert rows["nightly"]["steps"][0]["resumable"] is True and rows["nightly"]["steps"][1]["resumable"] is False
    assert rows["on_landing"]["reporters"] == [{"route": "team", "on": ["failed", "incident_opened"]}]
    assert rows["paused"]["enabled"] is False and rows["paused"]["last_tick"] is None
    assert "nightly" in weir(workspace_dir, project, "scenarios").stdout


@pytest.mark.parametrize(("yaml_text", "line", "words"), [
    ("s:\n  steps:\n    - build: {assets: [clen]}\n", 3, "unknown asset 'clen' (did you mean 'clean'?)"),
    ("s:\n  triggers:\n    - landed: {sources: [clean]}\n  steps:\n    - build\n", 3, "unknown source 'clean'"),
    ("s:\n  triggers:\n    - cron: \"0 25 * * *\"\n  steps:\n    - build\n", 3, "cron schedule '0 25 * * *' is not valid"),
    ("s:\n  triggers:\n    - cron: {schedule: \"0 6 * * *\", timezone: Nowhere/City}\n  steps:\n    - build\n", 3,
     "time zone 'Nowhere/City'"),
    ("s:\n  steps:\n    - explode: {}\n", 3, "unknown step 'explode'"),
    ("s:\n  steps:\n    - retrain: {model: clean}\n", 3, "unknown model 'clean'"),
    ("s:\n  steps:\n    - build\n  reporters:\n    - {route: ops}\n", 5, "unknown alert route 'ops'"),
    ("s:\n  steps:\n    - build\n  reporters:\n    - {route: team, on: [exploded]}\n", 5, "'exploded' is not one of"),
    ("s:\n  steps:\n    - call: {function: \"assets:nothing\"}\n", 3, "module 'assets' has no function 'nothing'"),
    ("s:\n  steps: []\n", 1, "scenario 's' has no steps"),
    ("s:\n  stepz: []\n", 2, "unknown key 'stepz'"),
])
def test_a_bad_scenarios_yml_is_one_line_at_file_and_line_and_exit_2(make_project, workspace_dir, yaml_text, line, words):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS, "scenarios.yml": yaml_text})
    with pytest.raises(ConfigError) as caught:
        load_project(project)
    assert caught.value.where == f"{project / 'scenarios.yml'}:{line}"
    assert words in caught.value.message
    out = weir(workspace_dir, project, "scenarios", expect=2)
    assert f"scenarios.yml:{line}" in out.stderr and not (workspace_dir / "weir.db").exists()


def test_a_python_scenario_naming_an_unknown_asset_points_at_its_definition(make_project):
    bad = ASSETS.replace('weir.steps.build("clean")', 'weir.steps.build("cleaned")')
    project = make_project({"weir.toml": TOML, "assets.py": bad})
    with pytest.raises(ConfigError) as caught:
        load_project(project)
    assert "scenario 'nightly': unknown asset 'cleaned'" in caught.value.message
    assert caught.value.where == f"{project / 'assets.py'}:{bad.splitlines().index('nightly = weir.scenario(') + 1}"


def test_two_scenarios_of_one_name_are_an_error(make_project):
    project = make_project({"weir.toml": TOML, "assets.py": ASSETS, "scenarios.yml": "nightly:\n  steps: [build]\n"})
    with pytest.raises(ConfigError, match="duplicate scenario 'nightly'"):
        load_project(project)


def test_the_cached_manifest_keeps_scenarios_with_their_functions_standing_in(project, tmp_path):
    from weir.project.manifest import UnloadedFunction, read_manifest, write_manifest

    write_manifest(load_project(project), tmp_path / "cache")
    cached = read_manifest(project, tmp_path / "cache")
    assert cached is not None and sorted(cached.scenarios) == ["nightly", "on_landing", "paused"]
    call = cached.scenarios["nightly"].steps[1]
    assert isinstance(call.function, UnloadedFunction) and call.name == "announce"
