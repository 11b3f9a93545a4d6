"""Faults that last several days, delivered day by day as production does, and what weir does
after the first day: is the whole fault one incident, is every bad partition in its scope, is an
insight ever trusted for a bad day, and does the fix the incident prints restore every day?

One data set (the single-day benchmark's sets, seeds and days) is delivered into a project with
its source and asset, a one-row daily ``report`` on the asset and an insight ``dashboard`` on the
report; every kind of data fault and two code faults each run for 1, 3 and 7 consecutive days
(``detection_faults``). Each day the file lands, ``ws.quality.ingest`` checks it, the day's
partitions are built (only the new day, ``--partition DAY``, so an edited asset does not rebuild
the history) and ``ws.incidents.sync()`` runs. An incident touching no bad partition is resolved as
a false alarm at the end of its day, as an operator would: left open, it would hold trust back and
hide what the fault does to it.

After a fault's last day:

1. **end**: the incidents touching it, the scope share, the bad partitions wrongly trusted;
2. **partial fix** (faults of more than one day): the first bad day alone repaired (its clean file
   delivered again and ingested, or after a code revert, or in the last good build's environment,
   the day built again); the days still bad wrongly trusted?
3. **full fix**: for each open incident touching the fault, oldest first, the steps of
   ``show(id)["fix"]`` run as ``weir incidents fix`` runs them (``_run_step``); the person's steps by
   the benchmark: a code revert, the days a ``deliver`` step names delivered again (only those);
4. **fixed**: every incident touching the fault resolved by itself, and every bad partition
   restored (``detection_scope.restored``, against a reference workspace of clean builds); the
   partitions the fix left bad, wrongly trusted?
5. **cleanup**, recorded apart: whatever the fix left bad is repaired and the incidents still open
   on the fault are resolved by hand, so the next fault starts from a clean history.

A fault's **bad partitions**: its source partitions (data faults) and every asset partition built
on its days, from them or under the bad code or library (the failed and blocked builds too; a
build never attempted, after an upstream failure, is not counted)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from detection_faults import (
    CODE_KINDS,
    DURATIONS,
    INSIGHT,
    KINDS,
    QUICK_DURATIONS,
    Fault,
    assets_code,
    code_note,
    fault_files,
    plan_faults,
)
from detection_inject import WARMUP
from detection_scope import Partition, incidents_touching, open_ids, restored, touched_by, wrongly_trusted
from detection_sets import DataSet, Frames

STATE = "multiday.json"
BUILT = ("succeeded", "failed", "blocked")


@dataclass(kw_only=True)
class Ledger:
    """What a delivered year has done so far (kept in ``multiday.json``: a story that crosses
    processes picks it up)."""

    done: int = 0  # days delivered
    results: list[dict] = field(default_factory=list)  # per fault, in order
    bad: dict[str, list[list[str]]] = field(default_factory=dict)  # fault index -> bad partitions
    run_of: dict[str, str] = field(default_factory=dict)  # day -> the run that built it
    landed: dict[str, float] = field(default_factory=dict)  # day -> when its file last landed
    dismissed: list[dict] = field(default_factory=list)  # incidents resolved as false alarms
    fix_opened: list[int] = field(default_factory=list)  # incidents opened while a fault was being fixed
    errors: dict[str, str] = field(default_factory=dict)  # day -> what weir raised
    seconds: float = 0.0

    def save(self, root: Path) -> None:
        (root / STATE).write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, root: Path) -> Ledger:
        path = root / STATE
        return cls(**json.loads(path.read_text())) if path.exists() else cls()


def plan(ds: DataSet, seed: int, quick: bool, kinds: tuple[str, ...] | None = None,
         durations: tuple[int, ...] | None = None) -> tuple[list[str], Frames, list[Fault], Frames]:
    """The days, their clean files, the faults (with what each does) and the files delivered."""
    frames = ds.load(ds.quick_last_day if quick else ds.last_day)
    days = sorted(frames)
    kinds = kinds or KINDS + CODE_KINDS
    durations = durations or (QUICK_DURATIONS if quick else DURATIONS)
    faults = plan_faults(days, kinds, durations, np.random.default_rng([seed, ds.salt, 2]))
    files = dict(frames)
    noted = []
    for f in faults:
        if f.family == "data":
            bad, note = fault_files(ds, f, frames, days, seed)
            files.update(bad)
        else:
            note = code_note(ds, f.kind) if f.family == "code" else f.note
            note += f", {f.duration} days running" if f.duration > 1 else ""
        noted.append(Fault(index=f.index, kind=f.kind, days=f.days, note=note))
    return days, frames, noted, files


class Year:
    """One data set's year with its faults, delivered day by day into ``root/project`` (workspace
    ``root/ws``), beside a reference workspace ``root/ref`` of clean builds of every faulty day."""

    def __init__(self, ds: DataSet, root: Path, days: list[str], frames: Frames, faults: list[Fault], files: Frames,
                 *, code: Callable[[str | None], str], name: str) -> None:
        self.ds, self.root, self.days, self.frames, self.faults, self.files = ds, root, days, frames, faults, files
        self.code, self.name = code, name
        self.fault_on = {d: f for f in faults for d in f.days}
        self.ledger = Ledger.load(root)
        self.ws = self.reference = None

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def home(self) -> Path:
        return self.root / "ws"

    @property
    def landing(self) -> Path:
        return self.project / "landing"

    # -- setting up ------------------------------------------------------------------------------
    def write_project(self, folder: Path, code: str) -> None:
        (folder / "landing").mkdir(parents=True, exist_ok=True)
        (folder / "weir.toml").write_text(f'[project]\nname = "{self.name}"\nmodules = ["assets"]\n')
        (folder / "assets.py").write_text(code)

    def build_reference(self) -> None:
        """Clean builds of every faulty day with the good code, to compare the fixed data with."""
        from weir.runs.request import RunRequest
        from weir.workspace import Workspace

        folder = self.root / "ref-project"
        self.write_project(folder, self.code(None))
        keys = [d for f in self.faults for d in f.days]
        for d in keys:
            self.frames[d].to_csv(folder / "landing" / f"{d}.csv", index=False)
        with Workspace(self.root / "ref", folder) as ref:
            ref.quality.ingest(self.ds.source, keys)
            for f in self.faults:
                ref.runs.run(RunRequest(first=f.days[0], last=f.days[-1], executor="inprocess", trigger="bench"))

    def open(self) -> None:
        from weir.workspace import Workspace

        if not self.project.exists():
            self.write_project(self.project, self.code(None))
        self.ws = Workspace(self.home, self.project)
        self.reference = Workspace(self.root / "ref", self.root / "ref-project", reading=True)

    def close(self) -> None:
        for w in (self.ws, self.reference):
            if w is not None:
                w.close()
        self.ledger.save(self.root)

    def set_code(self, fault: str | None) -> None:
        """The asset's code with a code fault, or good again (what a person commits)."""
        text = self.code(fault)
        path = self.project / "assets.py"
        if path.read_text() != text:
            path.write_text(text)
            self.ws.reload()

    # -- day by day ------------------------------------------------------------------------------
    def deliver(self, until: int | None = None, progress=None) -> None:
        """Deliver the days from where the ledger stands up to day index ``until`` (exclusive)."""
        t0 = time.perf_counter()
        stop = len(self.days) if until is None else until
        while self.ledger.done < stop:
            d = self.days[self.ledger.done]
            try:
                self.day(d)
            except Exception as exc:  # noqa: BLE001 - a day weir could not take is a finding
                self.ledger.errors[d] = f"{type(exc).__name__}: {exc}"
            self.ledger.done += 1
            if progress is not None:
                progress(d, self.ledger.done, len(self.days))
        self.ledger.seconds += time.perf_counter() - t0

    def land(self, d: str, frame) -> None:
        frame.to_csv(self.landing / f"{d}.csv", index=False)
        self.ledger.landed[d] = time.time()

    def build(self, d: str) -> dict[str, dict[str, int]]:
        from weir.runs.request import RunRequest

        result = self.ws.runs.run(RunRequest(partition=d, executor="inprocess", trigger="bench"))
        self.ledger.run_of[d] = result.run_id
        return result.per_asset

    def day(self, d: str) -> None:
        fault = self.fault_on.get(d)
        if fault is not None and fault.family == "code" and d == fault.days[0]:
            self.set_code(fault.kind)
        self.land(d, self.files[d])
        self.ws.quality.ingest(self.ds.source, [d])
        built = self.build(d)
        if fault is not None:
            bad = self.ledger.bad.setdefault(str(fault.index), [])
            if fault.family == "data":
                bad.append([self.ds.source, d])
            bad += [[a, d] for a, states in built.items() if any(states.get(s) for s in BUILT)]
        self.ws.incidents.sync()
        self.dismiss(d)
        if fault is not None and d == fault.days[-1]:
            self.ledger.results.append(self.end_of(fault))
            self.ledger.save(self.root)

    def all_bad(self) -> set[Partition]:
        return {(a, k) for rows in self.ledger.bad.values() for a, k in rows}

    def dismiss(self, d: str) -> None:
        """Resolve as false alarms the open incidents that touch no bad partition."""
        from weir.incidents.service import Reason

        bad = self.all_bad()
        for i, touched in touched_by(self.ws, open_ids(self.ws)).items():
            if not touched & bad:
                self.ws.incidents.resolve(i, Reason.FALSE_ALARM, "bench: touches no faulty partition")
                self.ledger.dismissed.append({"id": i, "day": d, "in_fault": d in self.fault_on,
                                              "by_a_fix": i in self.ledger.fix_opened})

    # -- the end of a fault ----------------------------------------------------------------------
    def end_of(self, fault: Fault) -> dict:
        bad = {(a, k) for a, k in self.ledger.bad.get(str(fault.index), [])}
        result = {**fault.to_json(), "bad": len(bad), "end": self.measure(bad, fault)}
        if fault.duration > 1:
            t0 = time.perf_counter()
            self.repair_first(fault)
            self.ws.incidents.sync()
            rest = {p for p in bad if p[1] != fault.days[0]}
            touching, _ = incidents_touching(self.ws, bad)
            result["partial"] = {**wrongly_trusted(self.ws, INSIGHT, rest),
                                 "open": [i["id"] for i in touching if i["state"] != "resolved"],
                                 "resolved": [i["id"] for i in touching if i["state"] == "resolved"],
                                 "seconds": time.perf_counter() - t0}
        result["fix"] = self.fix(fault, bad)
        result["cleanup"] = self.cleanup(fault, bad)
        return result

    def measure(self, bad: set[Partition], fault: Fault) -> dict:
        touching, in_scope = incidents_touching(self.ws, bad)
        printed = {}
        for i in touching:
            if i["state"] != "resolved":
                printed[i["id"]] = [s["command"] for s in self.ws.incidents.show(i["id"])["fix"]]
        return {"incidents": touching, "in_scope": len(in_scope), "scope_share": len(in_scope) / len(bad) if bad else None,
                "out_of_scope": sorted(f"{a} {k}" for a, k in bad - in_scope)[:6],
                **wrongly_trusted(self.ws, INSIGHT, bad), "fix_printed": printed}

    def repair_first(self, fault: Fault) -> None:
        """The first bad day alone repaired, as a partial fix."""
        first = fault.days[0]
        if fault.family == "data":
            self.land(first, self.frames[first])
            self.ws.quality.ingest(self.ds.source, [first])
            self.build(first)
        elif fault.family == "code":
            self.set_code(None)
            self.build(first)
        else:
            self.rebuild_in_good_env(fault, first)

    def rebuild_in_good_env(self, fault: Fault, day: str) -> None:
        from weir.envs.rebuild import RebuildRequest

        good = self.ledger.run_of[self.days[self.days.index(fault.days[0]) - 1]]
        self.ws.envs.rebuild(RebuildRequest(asset=self.ds.asset, partition=day, downstream=True, env_of=good))

    def fix(self, fault: Fault, bad: set[Partition]) -> dict | None:
        """Every open incident touching the fault fixed with the steps it prints."""
        from weir.cli.incidents import _run_step

        t0 = time.perf_counter()
        before = {i["id"] for i in incidents_touching(self.ws, bad)[0]}
        newest = self.newest_incident()
        ran: list[str] = []
        person: list[str] = []
        for i in sorted(before):
            steps = self.ws.incidents.show(i)["fix"]
            if any(s["kind"] == "revert" for s in steps):
                if fault.family == "code":
                    self.set_code(None)
                    person.append("code reverted")
                steps = self.ws.incidents.show(i)["fix"]  # what 'weir incidents fix' runs once reverted
            for s in steps:
                if s["kind"] == "revert":
                    person.append(f"not done: {s['command']}")
                elif s["kind"] == "deliver":
                    for key in s["keys"]:
                        self.land(key, self.frames[key])
                    person.append(f"{s['asset']} {len(s['keys'])} day(s) delivered again")
                else:
                    _run_step(self.ws, s)
                ran.append(s["command"])
            self.ws.incidents.sync()
        opened = list(range(newest + 1, self.newest_incident() + 1))
        self.ledger.fix_opened += opened
        touching, _ = incidents_touching(self.ws, bad)
        if not touching:
            return None
        left = self.not_restored(bad)
        new = [i["id"] for i in touching if i["id"] not in before]
        return {"ran": ran, "person": person, "incidents": touching, "new_incidents": new,
                "resolved": all(i["state"] == "resolved" and i["reason"] == "fixed" for i in touching),
                "restored": not left, "not_restored": [f"{a} {k}" for a, k in left][:8], "n_not_restored": len(left),
                "still_bad": wrongly_trusted(self.ws, INSIGHT, set(left)), **self.left_in_scope(touching),
                "opened_by_the_fix": len(opened), "seconds": time.perf_counter() - t0}

    def newest_incident(self) -> int:
        with self.ws.store.read():
            return max((r["id"] for r in self.ws.store.incidents.select(self.ws.project.name)), default=0)

    def left_in_scope(self, touching: list[dict]) -> dict:
        """The scope partitions of the incidents still open, not rebuilt good, and how many of them
        raise an alert as they are now (a clean day that alerts on its own keeps an incident open)."""
        ids = [i["id"] for i in touching if i["state"] != "resolved"]
        with self.ws.store.read():
            scopes = self.ws.store.incidents.scope(ids)
        left = {(r["asset"], r["partition_key"]) for rows in scopes.values() for r in rows if r["fixed_run_id"] is None}
        alerting = {(s["asset"], s["partition_key"]) for a in {a for a, _ in left}
                    for s in self.ws.monitors.signals(a) if s["severity"] == "alert"}
        return {"left_in_scope": len(left), "left_alerting": len(left & alerting)}

    def not_restored(self, bad: set[Partition]) -> list[Partition]:
        keys = sorted({k for _, k in bad})
        text = {k: self.frames[k].to_csv(index=False) for k in keys}
        return restored(self.ws, self.reference, self.ds.source, self.landing, text, self.ledger.landed, bad)

    def cleanup(self, fault: Fault, bad: set[Partition]) -> dict:
        """Repair what the fix left bad (and, after a code fault, whatever was built under the bad
        code outside it) and resolve by hand what is still open on the fault or opened by its fix."""
        from weir.incidents.service import Reason
        from weir.runs.request import RunRequest

        newest = self.newest_incident()
        outside = 0
        if fault.family == "code":
            self.set_code(None)
            built = self.ws.runs.run(RunRequest(stale=True, executor="inprocess", trigger="bench")).per_asset
            outside = sum(n.get("succeeded", 0) for n in built.values())
        days = sorted({k for _, k in self.not_restored(bad)})
        for d in days:
            if fault.family == "data":
                self.land(d, self.frames[d])
                self.ws.quality.ingest(self.ds.source, [d])
            if fault.family == "library":
                self.rebuild_in_good_env(fault, d)
            else:
                self.build(d)
        self.ws.incidents.sync()
        self.ledger.fix_opened += list(range(newest + 1, self.newest_incident() + 1))
        by_hand = []
        still_open = set(open_ids(self.ws))
        for i in sorted({i["id"] for i in incidents_touching(self.ws, bad)[0]} | set(self.ledger.fix_opened)):
            if i in still_open:
                self.ws.incidents.resolve(i, Reason.FIXED, "bench: cleanup after the fault's fix")
                by_hand.append(i)
        still = self.not_restored(bad)
        return {"repaired_days": days, "stale_after_revert": outside, "resolved_by_hand": by_hand,
                "still_bad": [f"{a} {k}" for a, k in still][:5]}


def run_year(ds: DataSet, seed: int, quick: bool, root: Path, progress=None) -> dict:
    """Plan, deliver and measure one data set's year; the result per fault and a summary."""
    days, frames, faults, files = plan(ds, seed, quick)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    year = Year(ds, root, days, frames, faults, files, code=lambda fault: assets_code(ds, fault),
                name=f"multi_{ds.name}")
    t0 = time.perf_counter()
    year.build_reference()
    reference_seconds = time.perf_counter() - t0
    year.open()
    try:
        year.deliver(progress=progress)
    finally:
        year.close()
    clean = [d for d in days[WARMUP:] if d not in year.fault_on]
    false = [x for x in year.ledger.dismissed if not x["in_fault"] and not x.get("by_a_fix")]
    return {"dataset": ds.name, "seed": seed, "quick": quick, "days": len(days), "faults": year.ledger.results,
            "clean_days": len(clean), "false_alarm_incidents": len(false),
            "false_alarm_incidents_per_100_clean": 100 * len(false) / len(clean) if clean else None,
            "errors": year.ledger.errors, "delivery_seconds": year.ledger.seconds,
            "reference_seconds": reference_seconds}


def run(seed: int, quick: bool, sets: tuple[str, ...], *, keep: Path | None, progress, library: bool = True) -> dict:
    """Every set's year, then the library story (electricity, when it is among ``sets``); the
    workspaces in ``keep`` (``multiday-SET-SEED[-quick]``) or in a temporary folder removed after."""
    import tempfile

    from detection_report import multiday_summary
    from detection_sets import DATASETS

    base = keep or Path(tempfile.mkdtemp(prefix="weir-multiday-"))
    suffix = f"-{seed}" + ("-quick" if quick else "")
    t0 = time.perf_counter()
    try:
        per_set = {name: run_year(DATASETS[name], seed, quick, base / f"multiday-{name}{suffix}",
                                  progress.line(f"{name} multi-day, seed {seed}")) for name in sets}
        if library and "electricity" in sets:
            from detection_library import run_library

            per_set["electricity, library"] = run_library(seed, quick, base / f"multiday-library{suffix}",
                                                          progress.line(f"electricity library, seed {seed}"))
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
    return {"seed": seed, "quick": quick, "datasets": per_set, "summary": multiday_summary(per_set),
            "seconds": time.perf_counter() - t0}
