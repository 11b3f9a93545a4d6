"""The library-upgrade story, end to end with real parts: two wheels of a tiny package written in
the test (1.0 converts miles to kilometres, 2.0 to metres by mistake), a project venv made with
uv that runs weir, the upgrade, and the rebuild in the environment of the run before it.

The project venv reaches weir's own dependencies through a ``.pth`` to this interpreter's site
folder (a layered venv: nothing to download, nothing to build), so its snapshot records those as
found through a shared site, and the rebuild's venv reuses them the same way."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest
from conftest import write_project

import weir
from weir.envs.snapshot import EnvironmentSnapshot, Origin
from weir.envs.uv import uv_binary
from weir.store.store import MetadataStore

pytestmark = pytest.mark.slow  # real venvs, real uv, real worker processes

PACKAGE = "weirtest-units"
KM = '''def km(miles):
    return miles * 1.609344
'''
METRES_BY_MISTAKE = '''def km(miles):
    return miles * 1609.344  # metres: the unit conversion broke in 2.0
'''

# ``distances`` waits while a file ``hold`` lies in the project, after writing its pid to ``held``.
ASSETS = '''
import os
import time
from pathlib import Path

import pandas as pd
import weir
import weirtest_units

HERE = Path(__file__).parent
days = weir.daily(start="2024-01-01", end="2024-01-03")


@weir.asset(partitions=days)
def trips(context):
    return pd.DataFrame({"day": [context.partition_key] * 2, "miles": [10.0, 2.5]})


@weir.asset(partitions=days)
def distances(trips):
    deadline = time.monotonic() + 120
    while (HERE / "hold").exists() and time.monotonic() < deadline:
        (HERE / "held").write_text(str(os.getpid()))
        time.sleep(0.05)
    return trips.assign(km=trips["miles"].map(weirtest_units.km))


@weir.asset(partitions=days)
def totals(distances):
    return distances.groupby("day", as_index=False)["km"].sum()
'''

DAY = "2024-01-02"
KM_TOTAL = 12.5 * 1.609344


def write_wheel(folder: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """A pure-Python wheel written by hand: the modules, METADATA, WHEEL and RECORD."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    entries = {**files, f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
               f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: weir-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, text in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    entries[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    out = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for path, text in entries.items():
            z.writestr(path, text)
    return out


class Story:
    """The project venv, its workspace and project, and ``weir`` run by the venv's interpreter."""

    def __init__(self, root: Path, assets: str = ASSETS, name: str = "trips", toml: str | None = None) -> None:
        self.root = root
        self.wheels = root / "wheels"
        self.wheels.mkdir()
        self.v1 = write_wheel(self.wheels, PACKAGE, "1.0", {"weirtest_units/__init__.py": KM})
        self.v2 = write_wheel(self.wheels, PACKAGE, "2.0", {"weirtest_units/__init__.py": METRES_BY_MISTAKE})
        self.venv = root / "venv"
        self.uv("venv", "--quiet", "--python", os.path.realpath(sys.executable), str(self.venv))
        site = self.venv / self._site()
        (site / "_shared.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # weir's dependencies
        (site / "_weir.pth").write_text(str(Path(weir.__file__).resolve().parents[1]) + "\n")
        self.install(self.v1)
        files = {"assets.py": assets} | ({"weir.toml": toml} if toml else {})
        self.project = write_project(root / name, files, name=name)
        self.home = root / "ws"

    def _site(self) -> str:
        code = "import sys, sysconfig; print(sysconfig.get_paths()['purelib'][len(sys.prefix) + 1:])"
        return subprocess.run([str(self.venv / "bin/python"), "-I", "-c", code], capture_output=True, text=True,
                              check=True).stdout.strip()

    def uv(self, *args: str) -> None:
        subprocess.run([uv_binary(), *args], check=True, capture_output=True, env=_clean_env())

    def install(self, wheel: Path) -> None:
        self.uv("pip", "install", "--quiet", "--python", str(self.venv / "bin/python"), str(wheel))

    def weir(self, *args: str, expect: int | None = 0, env: dict[str, str] | None = None):
        proc = subprocess.run(
            [str(self.venv / "bin/python"), "-m", "weir.cli.main", "--workspace", str(self.home),
             "--project", str(self.project), *args],
            capture_output=True, text=True, env={**_clean_env(), "NO_COLOR": "1", **(env or {})}, timeout=300,
            check=False,
        )
        if expect is not None:
            assert proc.returncode == expect, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        return proc

    def json(self, *args: str):
        return json.loads(self.weir(*args, "--json").stdout)

    def total(self) -> float:
        return json.loads(self.weir("read", "totals", "--partition", DAY, "--format", "json").stdout)[0]["km"]

    def env_of(self, run_id: str) -> str:
        return self.json("runs", "show", run_id)["environment_id"]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV", "WEIR_HOME", "WEIR_DATABASE_URL")}


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Story:
    return Story(tmp_path_factory.mktemp("upgrade"))


def test_an_upgrade_is_seen_diffed_and_undone_by_rebuilding_in_the_earlier_environment(story):
    first = story.json("run")
    assert first["state"] == "succeeded"
    assert story.total() == pytest.approx(KM_TOTAL)
    v1_env = story.env_of(first["run_id"])

    # the upgrade: the output changes, and the rebuild's run records 2.0
    story.install(story.v2)
    upgraded = story.json("rebuild", "distances", "--partition", DAY, "--downstream")
    assert upgraded["environment"] is None and len(upgraded["runs"]) == 1
    assert upgraded["runs"][0]["assets"] == {"distances": {"succeeded": 1}, "totals": {"succeeded": 1}}
    assert story.total() == pytest.approx(KM_TOTAL * 1000)
    v2_run = upgraded["runs"][0]["run_id"]
    v2_env = story.env_of(v2_run)
    assert v2_env != v1_env
    shown = {p["name"]: p for p in story.json("envs", "show", v2_run)["packages"]}
    assert shown[PACKAGE]["version"] == "2.0"
    assert shown[PACKAGE]["origin"]["kind"] == "file" and shown[PACKAGE]["origin"]["url"].endswith(story.v2.name)
    assert shown["pandas"]["origin"]["site"] == os.path.realpath(sysconfig.get_paths()["purelib"])  # the shared site

    # which package changed
    diff = story.json("envs", "diff", first["run_id"], v2_run)
    assert [(p["package"], p["change"], p["from"], p["to"], p["major"]) for p in diff["packages"]] == [
        (PACKAGE, "upgraded", "1.0", "2.0", True)]
    assert PACKAGE in story.weir("envs", "diff", first["run_id"], v2_run).stdout
    deps = story.json("deps", PACKAGE)  # which assets rest on which version
    assert {(a["asset"], a["version"], a["partitions"]) for a in deps["assets"] if a["asset"] == "distances"} == {
        ("distances", "1.0", 2), ("distances", "2.0", 1)}
    assert deps["packages"][0]["projects_on_several"] == {"trips": ["1.0", "2.0"]}

    # one command rebuilds the partition in the earlier environment: v1's output, v1 recorded
    rebuilt = story.json("rebuild", "distances", "--partition", DAY, "--downstream", "--env-of", first["run_id"])
    assert rebuilt["state"] == "succeeded"
    env = rebuilt["environment"]
    assert env["requested"] == v1_env and env["run_id"] == first["run_id"]
    assert env["used"] == v1_env and env["same"] is True and env["differences"] == []
    assert env["venv"]["reused"] is False and env["venv"]["installed"] == 1  # only the package; the rest is shared
    assert Path(env["venv"]["path"]) == story.home / "envs" / v1_env
    in_v1, downstream = rebuilt["runs"]
    assert in_v1["assets"] == {"distances": {"succeeded": 1}} and downstream["assets"] == {"totals": {"succeeded": 1}}
    assert story.env_of(in_v1["run_id"]) == v1_env  # the environment the build actually ran in
    assert story.env_of(downstream["run_id"]) == v2_env  # what depends on it: rebuilt in this environment
    assert story.total() == pytest.approx(KM_TOTAL)
    run = story.json("runs", "show", in_v1["run_id"])
    assert run["request"]["environment"] == v1_env and run["trigger"] == "rebuild"

    # the venv is kept: a second rebuild reuses it
    again = story.json("rebuild", "distances", "--partition", "2024-01-03", "--env-of", first["run_id"])
    assert again["environment"]["venv"]["reused"] is True and again["environment"]["same"] is True


def test_a_version_that_cannot_be_obtained_fails_with_one_line_and_changes_nothing(story, monkeypatch):
    if not story.home.exists():
        story.weir("run")
    first = story.json("runs", "--limit", "100")[-1]["id"]
    runs_before, total_before = story.weir("runs", "--json").stdout, story.total()

    # the wheel 1.0 was installed from is gone (and its venv was never made, or was cleared)
    shutil.rmtree(story.home / "envs", ignore_errors=True)
    kept = story.root / "kept.whl"
    story.v1.rename(kept)
    try:
        gone = story.weir("rebuild", "distances", "--partition", DAY, "--env-of", first, expect=2)
    finally:
        kept.rename(story.v1)
    assert gone.stderr.strip().splitlines() == [
        f"error: {PACKAGE} 1.0 cannot be obtained: it was installed from {story.v1}, which is gone"]

    # a version no index has: uv says so (offline here: uv's cache is all there is)
    from weir.envs.rebuild import capture_in

    here = capture_in(story.venv / "bin/python", "the project venv")
    wanted = dataclasses.replace(here, packages={**here.packages, PACKAGE: "9.9"}, origins={**here.origins, PACKAGE: Origin()})
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    store = MetadataStore.for_workspace(story.home, url=os.environ.get("WEIR_DATABASE_URL"))
    try:
        with store.transaction():
            store.environments.save(wanted.to_row())
    finally:
        store.close()
    missing = story.weir("rebuild", "distances", "--partition", DAY, "--env", wanted.id, expect=2, env={"UV_OFFLINE": "1"})
    assert missing.stderr.strip().splitlines() == [
        f"error: {PACKAGE} 9.9 cannot be obtained from the index: {PACKAGE} was not found in the cache"]

    assert story.weir("runs", "--json").stdout == runs_before
    assert story.total() == total_before
    assert list((story.home / "envs").iterdir()) == []  # no venv half-made
    assert EnvironmentSnapshot.from_row(wanted.to_row()).id == wanted.id


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie has ended
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_a_rebuild_in_an_earlier_environment_leaves_published_data_intact(story):
    if not story.home.exists():
        story.weir("run")
    first = story.json("runs", "--limit", "100")[-1]["id"]
    runs_before = {r["id"] for r in story.json("runs", "--limit", "100")}
    total_before = story.total()
    hold, held = story.project / "hold", story.project / "held"
    hold.touch()
    held.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [str(story.venv / "bin/python"), "-m", "weir.cli.main", "--workspace", str(story.home), "--project",
         str(story.project), "rebuild", "distances", "--partition", DAY, "--downstream", "--env-of", first],
        env={**_clean_env(), "NO_COLOR": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (held.exists() and held.read_text()):  # the worker in the earlier environment is building
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the rebuild never reached its build"
            time.sleep(0.05)
        worker = int(held.read_text())
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        deadline = time.monotonic() + 30
        while not _gone(worker):  # the worker dies with the run's process
            assert time.monotonic() < deadline, "the worker outlived the killed rebuild"
            time.sleep(0.05)
    finally:
        hold.unlink(missing_ok=True)
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert story.total() == total_before  # readers see what was published before
    killed = [r for r in story.json("runs", "--limit", "100") if r["id"] not in runs_before]
    assert [(r["trigger"], r["state"]) for r in killed] == [("rebuild", "failed")]  # closed as dead
    assert story.json("rebuild", "distances", "--partition", DAY, "--env-of", first)["state"] == "succeeded"
