"""Delivering a data set day by day as production does, and reading back what weir said.

Each day in order: the day's file lands in ``landing/``, ``ws.quality.ingest`` checks it (contract,
profile, monitors), and a ``--stale`` run builds the derived asset's out-of-date partitions. What
scoring needs and the monitors cannot recompute (the plan, the notes, blocked or failed days) is
written to ``delivery.json`` next to the workspace, so a kept workspace can be judged again later
with ``ws.monitors.replay`` and no delivery."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from detection_inject import PER_KIND, QUICK_PER_KIND, deliveries
from detection_sets import DataSet

RECORD = "delivery.json"


@dataclass(kw_only=True)
class Delivery:
    """One data set delivered with one seed: where it lives and what happened on which day."""

    dataset: str
    seed: int
    quick: bool
    assets: bool
    root: Path
    days: list[str] = field(default_factory=list)
    plan: dict[str, str] = field(default_factory=dict)  # day -> injected kind
    notes: dict[str, str] = field(default_factory=dict)  # day -> what was done
    events: dict[str, str] = field(default_factory=dict)  # day -> storm or holiday (flights)
    flags: dict[str, dict[str, str]] = field(default_factory=dict)  # day -> source or asset -> blocked or failed, why
    errors: dict[str, str] = field(default_factory=dict)  # day -> an exception weir raised
    seconds: float = 0.0

    @property
    def project(self) -> Path:
        return self.root / "project"

    @property
    def home(self) -> Path:
        return self.root / "ws"

    def save(self) -> None:
        body = {k: v for k, v in self.__dict__.items() if k != "root"}
        (self.root / RECORD).write_text(json.dumps(body, indent=1))

    @classmethod
    def load(cls, root: Path) -> Delivery | None:
        path = root / RECORD
        if not path.exists():
            return None
        return cls(root=root, **json.loads(path.read_text()))


def folder_name(ds: DataSet, seed: int, quick: bool, assets: bool) -> str:
    return f"{ds.name}-{seed}" + ("-quick" if quick else "") + ("" if assets else "-noassets")


def write_project(ds: DataSet, project: Path, assets: bool) -> None:
    project.mkdir(parents=True)
    # the data team hears of every incident, through a file: what the notifications cost is measured too
    (project / "weir.toml").write_text(f'[project]\nname = "detect_{ds.name}"\nmodules = ["assets"]\n\n'
                                       '[alerts.routes.team]\nchannel = "file"\naudience = "team"\npath = "outbox.jsonl"\n')
    (project / "assets.py").write_text(ds.source_code + (ds.asset_code if assets else ""))
    (project / "landing").mkdir()


def deliver(ds: DataSet, delivery: Delivery, progress=None) -> Delivery:
    """Land every day in order, ingest it and build what is stale; ``progress(day, done, total)`` after each."""
    from weir.runs.request import RunRequest
    from weir.workspace import Workspace

    last = ds.quick_last_day if delivery.quick else ds.last_day
    days, plan, files, notes = deliveries(ds, ds.load(last), delivery.seed, QUICK_PER_KIND if delivery.quick else PER_KIND)
    delivery.days, delivery.plan, delivery.notes, delivery.events = days, plan, notes, ds.events(last)
    write_project(ds, delivery.project, delivery.assets)
    landing = delivery.project / "landing"
    t0 = time.perf_counter()
    with Workspace(delivery.home, delivery.project) as ws:
        for i, d in enumerate(days):
            files[d].to_csv(landing / f"{d}.csv", index=False)
            try:
                for a in ws.quality.ingest(ds.source, [d]):
                    if a["state"] == "blocked":
                        delivery.flags.setdefault(a["partition"], {}).setdefault(ds.source, f"blocked: {a['message']}")
                if delivery.assets:
                    result = ws.runs.run(RunRequest(assets=(ds.asset,), stale=True, executor="inprocess", trigger="bench"))
                    for f in result.failures:  # a blocked source partition fails every run until it is delivered again
                        why = f["error"].strip().splitlines()[-1] if f["error"] else "failed"
                        delivery.flags.setdefault(f["partition"], {}).setdefault(f["asset"], why)
                ws.incidents.sync()  # as 'weir run' and 'weir ingest' do when they finish
                ws.alerts.deliver()
            except Exception as exc:  # noqa: BLE001 - a day weir could not take is a finding, not the end of the year
                delivery.errors[d] = f"{type(exc).__name__}: {exc}"
            if progress is not None:
                progress(d, i + 1, len(days))
    delivery.seconds = time.perf_counter() - t0
    delivery.save()
    return delivery


@dataclass(kw_only=True)
class Observed:
    """What weir said about a delivered history: its signals and the stored metric points."""

    signals: list[dict]  # every signal of the source and the asset (severity alert or warn)
    points: dict[str, list[dict]]  # source or asset -> its metric points
    replayed: bool  # signals re-judged now with ws.monitors.replay, not read as stored
    disagreements: list[str] = field(default_factory=list)  # alert days stored but not replayed, or back
    incidents: list[dict] = field(default_factory=list)  # from the events logged at delivery


def observe(ds: DataSet, delivery: Delivery, *, replay: bool) -> Observed:
    """Signals (stored at delivery, or replayed with today's monitors) and metric points."""
    from weir.workspace import Workspace

    names = [ds.source] + ([ds.asset] if delivery.assets else [])
    with Workspace(delivery.home, delivery.project) as ws:
        replayed = [s for n in names for s in ws.monitors.replay(n)]
        stored = replayed if replay else [s for n in names for s in ws.monitors.signals(n)]
        points = {n: ws.monitors.metrics(n) for n in names}
        from detection_incidents import observe_incidents

        incidents = observe_incidents(ws)

    def alert_days(signals: list[dict]) -> set[str]:
        return {s["partition_key"] for s in signals if s["severity"] == "alert"}

    differ = sorted(alert_days(stored) ^ alert_days(replayed))
    return Observed(signals=stored, points=points, replayed=replay, disagreements=differ, incidents=incidents)
