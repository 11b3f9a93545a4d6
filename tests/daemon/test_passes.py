"""Daemon passes in this process: a project whose files change is loaded again (and one that no
longer loads is served as it was), and the daemon status tells live from stopped."""

from __future__ import annotations

import pytest
from conftest import weir_cli as weir

from weir.daemon import loop
from weir.daemon.registry import register, status
from weir.workspace import Workspace

TOML = '[project]\nname = "demo"\nmodules = ["assets"]\n'
ASSETS = '''
import weir

days = weir.daily(start="2024-01-01", end="2024-01-31")
raw = weir.source("raw", path="landing/{partition}.csv", partitions=days)


@weir.asset(partitions=days)
def clean(raw):
    return raw


first = weir.scenario("first", steps=[weir.steps.build()])
'''


@pytest.fixture
def project(make_project, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    monkeypatch.setattr(loop, "HOUSEKEEPING_SECONDS", 0.0)  # look at the project's files on every pass
    return make_project({"weir.toml": TOML, "assets.py": ASSETS})


def test_a_project_that_changes_is_loaded_again_and_one_that_breaks_is_served_as_it_was(project, workspace_dir):
    lines: list[str] = []
    with Workspace(workspace_dir, project) as ws:
        daemon = ws.daemon(interval=1.0, log=lines.append)
        register(ws.store, daemon.id, ["demo"])
        daemon.run_pass()
        assert sorted(ws.project.scenarios) == ["first"]
        (project / "scenarios.yml").write_text("second:\n  steps: [diagnose]\n")
        daemon.run_pass()
        assert sorted(ws.project.scenarios) == ["first", "second"]
        assert lines[-1].endswith("project demo changed: loaded again (2 scenario(s))")
        (project / "scenarios.yml").write_text("second:\n  steps: [explode]\n")
        daemon.run_pass()
        assert sorted(ws.project.scenarios) == ["first", "second"]
        assert "project demo changed but does not load" in lines[-1] and "unknown step 'explode'" in lines[-1]
        assert "going on with it as it was" in lines[-1]
        [row] = status(ws.store)
        assert row["state"] == "live" and row["projects"] == ["demo"]


def test_daemon_status_says_when_none_ran(project, workspace_dir):
    out = weir(workspace_dir, project, "daemon", "status")
    assert "no daemon has run in this workspace" in out.stdout
    assert weir(workspace_dir, project, "daemon", "status", "--json").stdout.strip() == "[]"


def test_a_daemon_serves_every_project_registered_in_the_workspace_and_leaves_out_one_that_does_not_load(
        project, make_project, workspace_dir):
    from weir.store.projects import claim_project

    other = make_project({"weir.toml": TOML.replace('"demo"', '"other"'), "assets.py": ASSETS}, name="other")
    broken = make_project({"weir.toml": TOML.replace('"demo"', '"broken"'), "assets.py": "import weir\nweir.nothing\n"},
                          name="broken")
    lines: list[str] = []
    with Workspace(workspace_dir, project) as ws:
        for name, root in (("other", other), ("broken", broken)):
            claim_project(ws.store, name, str(root))
        daemon = ws.daemon(interval=1.0, log=lines.append)
        assert [s.project.name for s in daemon.sites] == ["demo", "other"]
        assert len(lines) == 1 and "project broken" in lines[0] and "is left out" in lines[0]
