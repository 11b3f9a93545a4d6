"""CLI latency: ``weir --help`` and ``weir status --json`` on an asset with 100,000 partitions.

Both are timed as real subprocesses of the installed entry point (interpreter start-up
included), median of several runs.

The 100k-partition state is created directly in the metadata store: a project with an hourly
asset spanning ~11.4 years (100,000 keys) and 100,000 rows inserted into the ``partitions``
table through ``MetadataStore.partitions.record_published`` (as a run would record them).
No Delta table holds those 100,000 partitions: ``weir status`` reads only the metadata store
and the project, never the tables, so building them would only make the setup slow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

HELP_TARGET = 0.2
STATUS_TARGET = 0.3
KEYS = 100_000

ASSETS_PY = '''
import pandas as pd
import weir

hours = weir.hourly(start="{start}", end="{end}")


@weir.asset(partitions=hours, description="Sensor readings, one partition per hour")
def readings(context) -> pd.DataFrame:
    return pd.DataFrame({{"hour": [context.partition_key], "value": [1.0]}})


@weir.asset(partitions=hours)
def cleaned(readings: pd.DataFrame) -> pd.DataFrame:
    return readings.dropna()
'''

BIN = Path(sys.executable).parent / "weir"


def _time(cmd: list[str], runs: int, cwd: Path | None = None) -> tuple[list[float], str]:
    times, out = [], ""
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("WEIR_DATABASE_URL", None)
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=cwd, env=env)
        times.append(time.perf_counter() - t0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        out = proc.stdout
    return times, out


def _breakdown(project: Path, home: Path, runs: int) -> dict[str, float]:
    """Medians of the pieces of a status call: start-up, imports, and the work on 100k partitions."""
    py = sys.executable

    def med(code: str) -> float:
        return round(statistics.median(_time([py, "-c", code], runs)[0]), 3)

    from weir.workspace import Workspace

    with Workspace(home, project, reading=True) as ws:  # as `weir status` opens it: manifest + light reader
        _ = ws.project
        calls = []
        for _ in range(runs):
            t0 = time.perf_counter()
            ws.data.status("readings")
            calls.append(time.perf_counter() - t0)
    return {
        "interpreter": med("pass"),
        "weir_imports": med("import weir.cli.main, weir.cli.data, weir.workspace, weir.project.manifest, weir.store.light"),
        "sqlalchemy_import": med("import sqlalchemy"),
        "pandas_import": med("import pandas"),
        "status_call": round(statistics.median(calls), 3),
    }


def build_state(tmp: Path, keys: int = KEYS) -> tuple[Path, Path, float]:
    """Project + workspace with ``keys`` published partitions of ``readings``; returns setup seconds."""
    from weir.store.store import MetadataStore
    from weir.workspace import Workspace

    t0 = time.perf_counter()
    start = datetime(2010, 1, 1)
    end = start + timedelta(hours=keys - 1)
    project = tmp / "project"
    project.mkdir(parents=True)
    (project / "weir.toml").write_text('[project]\nname = "sensors"\nmodules = ["assets"]\n')
    (project / "assets.py").write_text(
        ASSETS_PY.format(start=start.strftime("%Y-%m-%dT%H"), end=end.strftime("%Y-%m-%dT%H"))
    )
    home = tmp / "ws"
    with Workspace(home, project) as ws:
        asset = ws.project.asset("readings")
        all_keys = asset.partitions.keys()
        assert len(all_keys) == keys, len(all_keys)
        code = asset.code_version
    store = MetadataStore.for_workspace(home, url=os.environ.get("WEIR_DATABASE_URL"))
    now = time.time()
    rows = [
        {
            "project": "sensors", "asset": "readings", "partition_key": k, "version": i // 500,
            "run_id": "20240101-000000-bench", "code_version": code, "input_versions": {},
            "row_count": 24, "published_at": now,
        }
        for i, k in enumerate(all_keys)
    ]
    with store.transaction():
        store.partitions.record_published(rows)
    store.close()
    return project, home, time.perf_counter() - t0


def main(quick: bool = False) -> dict:
    runs = 3 if quick else 5
    print(f"## cli: subprocess wall time, median of {runs}{' [quick]' if quick else ''}")
    help_times, _ = _time([str(BIN), "--help"], runs)
    tmp = Path(tempfile.mkdtemp(prefix="weir-bench-cli-"))
    try:
        project, home, setup = build_state(tmp)
        cmd = [str(BIN), "--workspace", str(home), "--project", str(project), "status", "readings", "--json"]
        _time(cmd, 1)  # first run: OS file cache, .pyc of the project
        status_times, out = _time(cmd, runs)
        got = json.loads(out)
        row = got[0] if isinstance(got, list) else got
        published = row.get("published") if isinstance(row, dict) else None
        all_cmd = [str(BIN), "--workspace", str(home), "--project", str(project), "status", "--json"]
        status_all_times, _ = _time(all_cmd, runs)
        breakdown = _breakdown(project, home, runs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "help_seconds": round(statistics.median(help_times), 3),
        "help_target": HELP_TARGET,
        "status_seconds": round(statistics.median(status_times), 3),
        "status_all_seconds": round(statistics.median(status_all_times), 3),
        "status_target": STATUS_TARGET,
        "status_partitions": KEYS,
        "status_published_reported": published,
        "setup_seconds": round(setup, 2),
        "status_breakdown_seconds": breakdown,
        "note": "100,000 partitions recorded in the metadata store only; no Delta table was built (status does not read tables)",
        "runs": runs,
        "quick": quick,
    }
    out["status_over_help"] = round(out["status_seconds"] / out["help_seconds"], 2)
    out["help_target_met"] = out["help_seconds"] <= HELP_TARGET
    out["status_target_met"] = out["status_seconds"] <= STATUS_TARGET
    print(f"  weir --help                         {out['help_seconds']:.3f} s (target <= {HELP_TARGET} s: {'met' if out['help_target_met'] else 'MISSED'})")
    print(
        f"  weir status readings --json (100k)  {out['status_seconds']:.3f} s (target <= {STATUS_TARGET} s: "
        f"{'met' if out['status_target_met'] else 'MISSED'}); all assets {out['status_all_seconds']:.3f} s; "
        f"{out['status_over_help']:.2f}x weir --help"
    )
    b = breakdown
    print(
        f"  where status time goes: interpreter {b['interpreter']:.3f} s, weir CLI + manifest + light reader imports "
        f"{b['weir_imports']:.3f} s, ws.data.status() itself {b['status_call']:.3f} s (warm, in-process); not paid: "
        f"SQLAlchemy {b['sqlalchemy_import']:.3f} s and the project's 'import pandas' {b['pandas_import']:.3f} s"
    )
    print(f"  ({out['note']}; setup {setup:.1f} s, status reported {published} published)")
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    main(p.parse_args().quick)
