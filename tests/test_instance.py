"""One installation, many projects: the instance is built once from its configuration
(``instance.toml``, then the environment) and shared by its projects; deployments record which
version of a project ran from which folder, and moving a project folder is the explicit
``weir deploy``."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import weir_cli as weir
from conftest import write_project

from weir.errors import ConfigError
from weir.instance import Instance, InstanceConfig

ASSETS = '''
import pandas as pd
import weir


@weir.asset
def numbers():
    return pd.DataFrame({"n": [1, 2, 3]})
'''


def test_the_configuration_is_read_from_the_file_then_the_environment(tmp_path):
    home = tmp_path / "ws"
    home.mkdir()
    (home / "instance.toml").write_text(f'[store]\nurl = "sqlite:///{tmp_path}/elsewhere.db"\n'
                                        f'[storage]\nroot = "{tmp_path}/tables"\n')
    config = InstanceConfig.load(home, environ={})
    assert config.store_url == f"sqlite:///{tmp_path}/elsewhere.db" and config.tables_root == f"{tmp_path}/tables"
    overridden = InstanceConfig.load(home, environ={"WEIR_DATABASE_URL": "postgresql://u@h/db"})
    assert overridden.store_url == "postgresql+psycopg://u@h/db"  # the environment wins
    assert InstanceConfig.from_ref(config.ref()) == config
    assert InstanceConfig.load(tmp_path / "empty", environ={}).store_url == f"sqlite:///{tmp_path / 'empty' / 'weir.db'}"


@pytest.mark.parametrize("text, says", [
    ("[store\nurl = 1", "not valid TOML"),
    ("[stores]\nurl = 'x'", "unknown section [stores]"),
    ("[store]\nhost = 'x'", "unknown key 'host' in [store]"),
    ("[storage]\nroot = 3", "[storage] root must be a non-empty string"),
])
def test_a_malformed_instance_file_is_one_line_naming_it(tmp_path, text, says):
    home = tmp_path / "ws"
    home.mkdir()
    (home / "instance.toml").write_text(text)
    with pytest.raises(ConfigError, match="instance.toml") as raised:
        InstanceConfig.load(home, environ={})
    assert says in str(raised.value)
    project = write_project(tmp_path / "p", {"assets.py": ASSETS}, name="p")
    out = weir(home, project, "run", expect=2)
    assert "instance.toml" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_projects_of_an_instance_share_one_store_and_its_tables_live_where_it_says(tmp_path, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    home.mkdir()
    (home / "instance.toml").write_text(f'[storage]\nroot = "{tmp_path}/tables"\n')
    a = write_project(tmp_path / "a", {"assets.py": ASSETS}, name="a")
    b = write_project(tmp_path / "b", {"assets.py": ASSETS}, name="b")
    with Instance.open(home) as instance:
        first, second = instance.project(a), instance.project(b)
        assert first.store is second.store  # one engine, one pool
        first.runs.run(first_request())
        second.runs.run(first_request())
        first.close()  # a shared instance is its owner's to close
        assert instance.opened
    assert (tmp_path / "tables" / "a" / "numbers").is_dir() and (tmp_path / "tables" / "b" / "numbers").is_dir()
    assert not (home / "data").exists()


def first_request():
    from weir.runs.request import RunRequest

    return RunRequest(executor="inprocess", actor="tester")


def test_runs_record_their_deployment_and_actor_and_a_new_version_is_a_new_deployment(tmp_path, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    project = write_project(tmp_path / "p", {"assets.py": ASSETS}, name="p")
    weir(home, project, "run")
    (project / "assets.py").write_text(ASSETS.replace("[1, 2, 3]", "[1, 2, 3, 4]"))
    weir(home, project, "run")
    weir(home, project, "run", "--stale")
    deployments = json.loads(weir(home, project, "deployments", "--json").stdout)
    runs = json.loads(weir(home, project, "runs", "--json").stdout)
    assert [d["active"] for d in deployments] == [True, False]
    assert [d["runs"] for d in deployments] == [2, 1] and deployments[0]["location"] == str(project)
    assert deployments[0]["digest"] != deployments[1]["digest"]
    assert {r["deployment_id"] for r in runs} == {d["id"] for d in deployments}
    assert all(r["actor"] for r in runs)


def test_a_new_environment_lock_is_a_new_deployment_with_the_same_code(tmp_path, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    project = write_project(tmp_path / "p", {"assets.py": ASSETS}, name="p")
    weir(home, project, "run")
    (project / "weir.lock").write_text("pandas==2.2.3\n")
    weir(home, project, "run", "--stale")
    (project / "weir.lock").write_text("pandas==2.2.3\n")  # the same pins again: the same deployment
    weir(home, project, "run", "--stale")
    deployments = json.loads(weir(home, project, "deployments", "--json").stdout)
    assert len(deployments) == 2 and deployments[0]["digest"] != deployments[1]["digest"]


def test_a_moved_project_folder_is_refused_until_deployed_there_and_then_the_old_one_is(tmp_path, monkeypatch):
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    home = tmp_path / "ws"
    old = write_project(tmp_path / "old", {"assets.py": ASSETS}, name="p")
    weir(home, old, "run")
    new = tmp_path / "new"
    shutil.copytree(old, new)  # a release unpacked in a new folder; the old one is still there
    refused = weir(home, new, "run", expect=2)
    assert "weir deploy" in refused.stderr and str(old) in refused.stderr
    deployed = json.loads(weir(home, new, "deploy", "--json").stdout)
    assert deployed["active"] and deployed["location"] == str(new)
    weir(home, new, "run")
    assert "weir deploy" in weir(home, old, "run", expect=2).stderr
    rows = json.loads(weir(home, new, "deployments", "--json").stdout)
    assert [(r["location"], r["active"]) for r in rows] == [(str(new), True), (str(old), False)]
