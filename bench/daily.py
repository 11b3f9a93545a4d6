"""The daily incremental run: what users wait for every day.

A 5-asset chain over a daily source has 365 days built; one more day lands; ``weir run --stale``
builds that day's five partitions. Timed as a user runs it: a real subprocess of the installed
entry point, process start included, median of several runs (each on a fresh copy of the built
workspace). The baseline, measured in the same run, is a plain
``python -c "import deltalake, pyarrow"``: the floor of any process that writes a Delta table.

    .venv/bin/python bench/daily.py [--quick] [--profile]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path

TARGET_S = 1.0
START = date(2020, 1, 1)

ASSETS_PY = '''
import weir

days = weir.daily(start="{start}", end="{end}")
landing = weir.source("landing", path="landing/{{partition}}.csv", partitions=days)


@weir.asset(partitions=days)
def a1(landing):
    return landing


@weir.asset(partitions=days)
def a2(a1):
    return a1.assign(x=a1["x"] + 1)


@weir.asset(partitions=days)
def a3(a2):
    return a2.assign(x=a2["x"] * 2)


@weir.asset(partitions=days)
def a4(a3):
    return a3.assign(x=a3["x"] - 1)


@weir.asset(partitions=days)
def a5(a4):
    return a4.assign(y=a4["x"] % 3)
'''

BIN = Path(sys.executable).parent / "weir"


def land(project: Path, day: date) -> None:
    path = project / "landing" / f"{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("day,x\n" + "".join(f"{day.isoformat()},{i}\n" for i in range(10)))


def setup(root: Path, days: int) -> tuple[Path, Path]:
    project, ws = root / "project", root / "ws"
    project.mkdir(parents=True)
    end = START + timedelta(days=days + 30)
    (project / "weir.toml").write_text('[project]\nname = "daily"\n')
    (project / "assets.py").write_text(textwrap.dedent(ASSETS_PY.format(start=START.isoformat(), end=end.isoformat())))
    for i in range(days):
        land(project, START + timedelta(days=i))
    _weir(ws, project, "run")
    return project, ws


def _weir(ws: Path, project: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_DATABASE_URL", "WEIR_HOME")}
    t0 = time.perf_counter()
    proc = subprocess.run([str(BIN), "--workspace", str(ws), "--project", str(project), *args],
                          capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"weir {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return seconds


def _floor() -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import deltalake, pyarrow"], check=True)
    return time.perf_counter() - t0


def main(quick: bool = False, profile: bool = False) -> dict:
    days = 60 if quick else 365
    runs = 3 if quick else 5
    print(f"## daily: one new day of a 5-asset chain with {days} days built (weir run --stale, a real process)")
    tmp = Path(tempfile.mkdtemp(prefix="weir-bench-daily-"))
    try:
        built, pristine = tmp / "built", tmp / "pristine"
        setup(built, days)
        shutil.copytree(built, pristine)
        times, floors = [], []
        for n in range(runs):
            # each run starts from the same built state, at the same place (a project name belongs to one folder)
            shutil.rmtree(built)
            shutil.copytree(pristine, built)
            p, w = built / "project", built / "ws"
            land(p, START + timedelta(days=days))
            floors.append(_floor())
            if profile and n == 0:
                _weir(w, p, "run", "--stale", "--plan")
            times.append(_weir(w, p, "run", "--stale"))
        wall, floor = statistics.median(times), statistics.median(floors)
        print(f"  weir run --stale (1 day x 5 assets)   {wall:.3f} s median of {runs} (min {min(times):.3f})"
              f"  target <= {TARGET_S} s: {'met' if wall <= TARGET_S else 'MISSED'}")
        print(f"  python -c 'import deltalake, pyarrow'  {floor:.3f} s  -> ratio {wall / floor:.2f}x")
        return {"days": days, "stale_run_seconds": round(wall, 3), "floor_seconds": round(floor, 3),
                "ratio": round(wall / floor, 2), "target_seconds": TARGET_S, "met": wall <= TARGET_S}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    main(args.quick, args.profile)
