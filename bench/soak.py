"""Soak: random SIGKILLs of ``weir run`` during a backfill, with runs overlapping, then check that
nothing was lost or doubled. Not part of CI (minutes of wall time).

    .venv/bin/python bench/soak.py                      # 100 days, 8 kills, SQLite
    .venv/bin/python bench/soak.py --kills 20 --seed 7
    WEIR_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test bench/soak.py --postgres-schema

What it does: builds a clean reference (one run on an empty workspace); then on a second
workspace starts ``weir run`` processes (a 100-partition backfill first, then random ranges or
``--stale``), often two at once a moment apart, and SIGKILLs one at a random moment until it has
killed ``--kills`` times; the survivors must exit 0. Then two overlapping ``weir run --stale``
finish the work. Checked at the end: ``weir doctor --json`` finds nothing, every partition holds
one file whose rows equal the clean build's, no worker process outlived its killed run, and after
``weir vacuum --older-than 0`` on both workspaces the soaked tables take at most 1.2x the disk of
the clean ones. Prints the figures and exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ASSETS = '''
import time

import pandas as pd

import weir

days = weir.daily(start="2024-01-01", end="{end}")
landing = weir.source("landing", path="landing/{{partition}}.csv", partitions=days)


@weir.asset(partitions=days)
def cleaned(landing):
    time.sleep(0.05)
    return landing.assign(amount=landing["amount"] * 100)


@weir.asset(partitions=days, inputs={{"yesterday": weir.upstream("cleaned", weir.previous(1))}})
def moved(cleaned, yesterday):
    time.sleep(0.05)
    before = 0 if yesterday is None else int(yesterday["amount"].sum())
    return cleaned.assign(change=cleaned["amount"] - before)


@weir.asset(partitions=days)
def by_store(moved):
    time.sleep(0.05)
    return moved.groupby("store", as_index=False).agg(total=("amount", "sum"), rows=("id", "count"))
'''
ROWS_PER_DAY = 2000
DISK_RATIO_LIMIT = 1.2
WORKER_GRACE_SECONDS = 5.0


def days_of(n: int) -> list[str]:
    from datetime import date, timedelta

    first = date(2024, 1, 1)
    return [(first + timedelta(days=i)).isoformat() for i in range(n)]


def make_project(root: Path, days: list[str]) -> Path:
    project = root / "project"
    (project / "landing").mkdir(parents=True)
    (project / "weir.toml").write_text('[project]\nname = "soak"\n')
    (project / "assets.py").write_text(ASSETS.format(end=days[-1]))
    rng = random.Random(0)
    for day in days:
        lines = ["id,store,amount"] + [f"{i},s{rng.randrange(20)},{rng.randrange(10_000)}" for i in range(ROWS_PER_DAY)]
        (project / "landing" / f"{day}.csv").write_text("\n".join(lines) + "\n")
    return project


class Weir:
    """``weir`` processes on one workspace (and the metadata store ``env`` names)."""

    def __init__(self, workspace: Path, project: Path, env: dict[str, str]) -> None:
        self.workspace, self.project, self.env = workspace, project, env

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "weir.cli.main", "--workspace", str(self.workspace), "--project", str(self.project), *args]

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.argv("run", "--executor", "processes", "--workers", "2", "--json", *args), env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def call(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.argv(*args), env=self.env, capture_output=True, text=True, timeout=1800, check=False)
        if check and done.returncode != 0:
            raise SystemExit(f"weir {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def published(workspace: Path) -> dict[tuple[str, str], tuple[int, list]]:
    """(asset, partition) -> (files in the current Delta snapshot, its rows sorted)."""
    from deltalake import DeltaTable

    out: dict[tuple[str, str], tuple[int, list]] = {}
    for table_dir in sorted((workspace / "data" / "soak").iterdir()):
        table = DeltaTable(str(table_dir))
        files: dict[str, int] = {}
        for uri in table.file_uris():
            key = uri.split("partition_key=")[1].split("/")[0]
            files[key] = files.get(key, 0) + 1
        data = table.to_pyarrow_table()
        keys = data.column("partition_key").to_pylist()
        rows = list(zip(*(data.column(c).to_pylist() for c in sorted(data.column_names) if c != "partition_key")))
        grouped: dict[str, list] = {}
        for key, row in zip(keys, rows):
            grouped.setdefault(key, []).append(row)
        for key, n in files.items():
            out[(table_dir.name, key)] = (n, sorted(grouped.get(key, [])))
    return out


def disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def soak(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="weir-soak-"))
    days = days_of(args.days)
    project = make_project(root, days)
    env = {k: v for k, v in os.environ.items() if k != "WEIR_HOME"}
    env["NO_COLOR"] = "1"
    schema = None
    if args.postgres_schema and env.get("WEIR_DATABASE_URL"):
        import psycopg

        base = env["WEIR_DATABASE_URL"]
        schema = f"weir_soak_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        env["WEIR_DATABASE_URL"] = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    clean_env = {k: v for k, v in env.items() if k != "WEIR_DATABASE_URL"}  # the reference stays on SQLite

    t0 = time.monotonic()
    clean = Weir(root / "clean", project, clean_env)
    if clean.start().wait() != 0:
        raise SystemExit("the clean reference build failed")
    clean_seconds = time.monotonic() - t0

    soaked = Weir(root / "soaked", project, env)
    soaked.call("db", "upgrade")
    figures = {"days": args.days, "partitions": 3 * args.days, "kills": 0, "runs": 0, "runs_killed": 0,
               "runs_exit_0": 0, "runs_failed": 0, "overlapping_starts": 0, "orphaned_workers": 0,
               "backend": "postgresql" if env.get("WEIR_DATABASE_URL") else "sqlite", "seed": args.seed}
    failures: list[str] = []
    first = True
    while figures["kills"] < args.kills:
        selection = [] if first else rng.choice([["--stale"], _range(rng, days)])
        first = False
        procs = [soaked.start(*selection)]
        if rng.random() < 0.5:  # an overlapping run, a moment later
            time.sleep(rng.uniform(0.2, 2.0))
            procs.append(soaked.start(*rng.choice([["--stale"], _range(rng, days), selection])))
            figures["overlapping_starts"] += 1
        figures["runs"] += len(procs)
        time.sleep(rng.uniform(0.5, args.kill_within))
        live = [p for p in procs if p.poll() is None]
        if live:
            victim = rng.choice(live)
            workers = children(victim.pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait()  # not its pipes yet: a worker that outlived it would hold them open
            figures["kills"] += 1
            figures["runs_killed"] += 1
            deadline = time.monotonic() + WORKER_GRACE_SECONDS
            while any(alive(w) for w in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            orphans = [w for w in workers if alive(w)]
            figures["orphaned_workers"] += len(orphans)
            for w in orphans:  # counted; the soak leaves none behind
                os.kill(w, signal.SIGKILL)
            victim.communicate()
            procs.remove(victim)
        for p in procs:
            out, err = p.communicate(timeout=1800)
            if p.returncode == 0:
                figures["runs_exit_0"] += 1
            else:
                figures["runs_failed"] += 1
                failures.append(f"a run exited {p.returncode}: {(err or out).strip().splitlines()[-1:]}")
    # two overlapping runs finish the work
    final = [soaked.start("--stale")]
    time.sleep(0.5)
    final.append(soaked.start("--stale"))
    for p in final:
        out, err = p.communicate(timeout=1800)
        figures["runs"] += 1
        if p.returncode == 0:
            figures["runs_exit_0"] += 1
        else:
            figures["runs_failed"] += 1
            failures.append(f"a final run exited {p.returncode}: {(err or out).strip().splitlines()[-1:]}")

    doctor = json.loads(soaked.call("doctor", "--json", check=False).stdout)
    figures["doctor_before_vacuum"] = doctor["counts"]
    for w in (clean, soaked):
        w.call("vacuum", "--older-than", "0", "--json")
    doctor = json.loads(soaked.call("doctor", "--json", check=False).stdout)
    figures["doctor"] = doctor["counts"]
    if not doctor["ok"] or any(doctor["counts"].values()):
        failures.append(f"weir doctor: {[(f['kind'], f['asset'], f['partition']) for f in doctor['findings']][:10]}")

    want, got = published(clean.workspace), published(soaked.workspace)
    figures["partitions_checked"] = len(want)
    figures["extra_files"] = sum(n - 1 for n, _ in got.values() if n > 1)
    figures["mismatches"] = sum(1 for k in want if got.get(k, (0, None))[1] != want[k][1]) + len(set(got) - set(want))
    if figures["mismatches"] or figures["extra_files"]:
        failures.append(f"{figures['mismatches']} partitions differ from the clean build, {figures['extra_files']} extra files")
    if figures["orphaned_workers"]:
        failures.append(f"{figures['orphaned_workers']} worker processes outlived their killed run")
    clean_bytes, soaked_bytes = disk(clean.workspace / "data"), disk(soaked.workspace / "data")
    figures["disk_clean_bytes"], figures["disk_soaked_bytes"] = clean_bytes, soaked_bytes
    figures["disk_ratio"] = round(soaked_bytes / clean_bytes, 3)
    if figures["disk_ratio"] > DISK_RATIO_LIMIT:
        failures.append(f"disk ratio {figures['disk_ratio']} > {DISK_RATIO_LIMIT}")
    figures["clean_build_seconds"] = round(clean_seconds, 1)
    figures["seconds"] = round(time.monotonic() - t0, 1)
    figures["failures"] = failures
    if schema is not None:
        import psycopg

        with psycopg.connect(os.environ["WEIR_DATABASE_URL"], autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        figures["root"] = str(root)
    return figures


def _range(rng: random.Random, days: list[str]) -> list[str]:
    first = rng.randrange(len(days) - 10)
    last = min(len(days) - 1, first + rng.randrange(10, 40))
    return ["--from", days[first], "--to", days[last]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=100, help="daily partitions per asset (3 assets)")
    parser.add_argument("--kills", type=int, default=8, help="SIGKILLs to deliver")
    parser.add_argument("--kill-within", type=float, default=8.0, help="a kill comes 0.5..this many seconds after a start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres-schema", action="store_true",
                        help="with WEIR_DATABASE_URL: soak in a fresh schema of that database, dropped after")
    parser.add_argument("--keep", action="store_true", help="keep the workspaces (their folder is printed)")
    figures = soak(parser.parse_args())
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    sys.exit(1 if figures["failures"] else 0)


if __name__ == "__main__":
    main()
