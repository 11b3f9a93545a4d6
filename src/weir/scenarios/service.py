"""Scenarios as the daemon and users drive them: triggers evaluated into ticks (each occurrence
once), ticks claimed and run step by step (each tick once), by hand in the foreground, and the
history of what ran.

A tick's progress is written after every step (the next step to run, each step's outcome and
the runs it started), so a tick handed back (SIGTERM, a wait not over) or taken on after its
holder died goes on from there. A step its holder died in is done again only if it is
resumable (``model/steps.py``); otherwise the tick ends failed, saying so: never twice."""

from __future__ import annotations

import builtins
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from weir.errors import UnknownObjectError, WeirError
from weir.model.triggers import Manual
from weir.scenarios.lease import LEASE_SECONDS, LeaseKeeper, new_holder
from weir.scenarios.reports import report
from weir.scenarios.steps import Services, StepOutcome, incidents_since, run_step
from weir.scenarios.triggers import Facts, TriggerEvaluator

if TYPE_CHECKING:
    from weir.model.scenarios import Scenario
    from weir.scenarios.landing import LandingScanner

WAIT_POLL = 5.0  # seconds between two looks of a wait step
State = Literal["pending", "running", "succeeded", "failed", "skipped"]


@dataclass(frozen=True, kw_only=True)
class Claim:
    """A tick taken by a holder: as it was before (a lapsed ``running`` one: its holder died),
    and as it is now."""

    before: dict
    tick: dict


class ScenarioService:
    def __init__(self, services: Services) -> None:
        self._s = services
        self._evaluator = TriggerEvaluator()
        self._scanner: LandingScanner | None = None
        self.ready_at: float | None = None  # when a trigger now waiting out its debounce may fire

    def arrivals(self) -> bool:
        """Whether files landed in a watched folder since the triggers last looked (cheap: a
        daemon asks between passes, to look again at once)."""
        return self._scanner is not None and self._scanner.changed()

    # -- as users ask -----------------------------------------------------------------------
    def get(self, name: str) -> Scenario:
        """The scenario called ``name``; UnknownObjectError with a suggestion otherwise."""
        project = self._s.project()
        found = project.scenarios.get(name)
        if found is None:
            from weir.project.graph import suggest

            known = sorted(project.scenarios)
            hint = suggest(name, known) or (f" (scenarios: {', '.join(known)})" if known else
                                           " (the project has none: weir.scenario(...) or scenarios.yml)")
            raise UnknownObjectError(f"unknown scenario {name!r}{hint}")
        return found

    def list(self) -> builtins.list[dict]:
        """Every scenario with its newest tick and how many wait or run."""
        project, store = self._s.project(), self._s.store()
        with store.read():
            latest = store.ticks.latest(project.name)
            active = store.ticks.active(project.name)
        out = []
        for scenario in project.scenarios.values():
            out.append({"scenario": scenario, "last": latest.get(scenario.name),
                        "active": sum(1 for t in active if t["scenario"] == scenario.name)})
        return out

    def history(self, name: str, *, limit: int = 20) -> builtins.list[dict]:
        """The ticks of scenario ``name``, newest first (a scenario no longer defined still has its history)."""
        project, store = self._s.project(), self._s.store()
        with store.read():
            rows = store.ticks.history(project.name, name, limit=limit)
        if not rows:
            self.get(name)
        return rows

    # -- triggers -> ticks ------------------------------------------------------------------
    def evaluate(self, now: float | None = None) -> builtins.list[dict]:
        """Evaluate the triggers of every enabled scenario; create the ticks they call for
        (once each: a tick already there is left as it is). Returns the ticks created."""
        project, store = self._s.project(), self._s.store()
        watched = [s for s in project.scenarios.values()
                   if s.enabled and any(not isinstance(t, Manual) for t in s.triggers)]
        if not watched:
            return []
        if self._scanner is None or self._scanner.root != project.root:
            from weir.scenarios.landing import LandingScanner

            self._scanner = LandingScanner(project.root)
        facts = Facts(project=project, store=store, scanner=self._scanner, now=time.time() if now is None else now)
        created = []
        for scenario in watched:
            with store.transaction():
                state = store.trigger_states.lock(project.name, scenario.name)
                if state is None:  # another daemon evaluates it right now
                    continue
                firings, after = self._evaluator.evaluate(scenario, state, facts)
                for f in firings:
                    row = {"project": project.name, "scenario": scenario.name, "scheduled_for": f.scheduled_for,
                           "trigger": f.trigger, "fired_by": f.fired_by, "state": "pending", "created_at": facts.now,
                           "due_at": f.due_at, "steps": [], "run_ids": []}
                    tick_id = store.ticks.create(row)
                    if tick_id is not None:
                        created.append({**row, "id": tick_id})
                if after is not state:
                    store.trigger_states.save(project.name, scenario.name, after)
        self.ready_at = min(facts.ready) if facts.ready else None
        return created

    # -- ticks claimed and run --------------------------------------------------------------
    def claim(self, holder: str, *, now: float | None = None, lease: float = LEASE_SECONDS) -> Claim | None:
        """Take the tick due first for ``holder``; None when none is due."""
        project, store = self._s.project(), self._s.store()
        with store.transaction():
            got = store.ticks.claim(project.name, holder, now=time.time() if now is None else now, lease=lease)
        return Claim(before=got[0], tick=got[1]) if got else None

    def execute(self, claim: Claim, *, stopping: Callable[[], bool] = lambda: False, hand_back_waits: bool = True,
                on_interrupt: Literal["hand back", "fail"] = "hand back", wait_poll: float = WAIT_POLL) -> dict:
        """Run a claimed tick's steps from where it stands; returns the tick as it ends (or as
        it was handed back). ``stopping`` is asked between steps: when it says so the tick is
        handed back before the next step. A KeyboardInterrupt (SIGINT, or SIGTERM during a
        build) hands it back (or fails it) and is raised again."""
        before, tick = claim.before, claim.tick
        project = self._s.project()
        scenario = project.scenarios.get(tick["scenario"])
        if scenario is None:
            return self._finish(tick, None, "skipped", [], [], note="the scenario is no longer in the project")
        if not scenario.enabled and tick["trigger"] != "manual":
            return self._finish(tick, scenario, "skipped", [], [], note="the scenario is disabled")
        records: builtins.list[dict] = [dict(r) for r in tick["steps"] or []]
        runs: builtins.list[str] = list(tick["run_ids"] or [])
        index = min(int(tick["step"]), len(scenario.steps))
        if before["state"] == "running" and index < len(records) and records[index].get("state") == "running":
            runs += [r for r in self._runs_of(tick["id"]) if r not in runs]
            step = scenario.steps[index]
            if not step.resumable:
                records[index].update(state="failed", finished_at=time.time(),
                                      message=f"{step.describe()}: {before['holder']} stopped during this step, and a "
                                              f"{step.kind} step is not done twice")
                return self._finish(tick, scenario, "failed", records, runs)
            records[index]["resumed"] = f"after {before['holder']} stopped during it"
        while index < len(scenario.steps):
            if stopping():
                return self._hand_back(tick, records, index, runs)
            step = scenario.steps[index]
            while len(records) <= index:
                records.append({})
            rec = records[index]
            rec.update(step=index, kind=step.kind, name=step.describe(), state="running", started_at=time.time())
            if not self._save(tick, step=index, steps=records):
                return self._lost(tick)
            try:
                outcome = run_step(step, self._s, scenario, {**tick, "steps": records}, rec)
            except KeyboardInterrupt:
                runs += [r for r in self._runs_of(tick["id"]) if r not in runs]  # the run it cancelled
                if on_interrupt == "hand back":
                    rec.update(state="handed back", finished_at=time.time())
                    self._hand_back(tick, records, index, runs)
                else:
                    rec.update(state="failed", finished_at=time.time(), message=f"{step.describe()}: interrupted")
                    self._finish(tick, scenario, "failed", records, runs, report_it=False)
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of a step is the step's outcome
                outcome = _failure(step.describe(), exc)
            runs += [r for r in outcome.runs if r not in runs]
            rec.update(outcome.details)
            rec.update(state=outcome.state, message=outcome.message, runs=outcome.runs, finished_at=time.time())
            if outcome.state == "waiting":
                if hand_back_waits:
                    return self._hand_back(tick, records, index, runs, due_at=time.time() + wait_poll)
                if stopping():
                    return self._hand_back(tick, records, index, runs)
                time.sleep(wait_poll)
                continue
            index += 1
            if not self._save(tick, step=index, steps=records, run_ids=runs):
                return self._lost(tick)
            if outcome.state == "failed" and not step.continue_on_failure:
                break
        failed = any(r.get("state") == "failed" for r in records)
        return self._finish(tick, scenario, "failed" if failed else "succeeded", records, runs)

    def run(self, name: str, *, actor: str = "unknown") -> dict:
        """Run scenario ``name`` now, in the foreground, as a tick of its own (trigger
        ``manual``); returns the tick as it ended. Waits wait here; Ctrl-C fails the tick."""
        scenario = self.get(name)
        project, store = self._s.project(), self._s.store()
        holder = new_holder("cli")
        now = time.time()
        row = {"project": project.name, "scenario": scenario.name, "scheduled_for": f"manual:{now:.6f}:{holder[-6:]}",
               "trigger": "manual", "fired_by": {"kind": "manual", "by": actor}, "created_at": now,
               "due_at": now, "steps": [], "run_ids": []}
        with store.transaction():
            tick_id = store.ticks.start(row, holder, now=now, lease=LEASE_SECONDS)
            tick = store.ticks.get(tick_id)
        assert tick is not None
        keeper = LeaseKeeper(store, holder).start()
        try:
            return self.execute(Claim(before=tick, tick=tick), hand_back_waits=False, on_interrupt="fail")
        finally:
            keeper.stop()

    # -- recording --------------------------------------------------------------------------
    def _save(self, tick: dict, **values: Any) -> bool:
        store = self._s.store()
        with store.transaction():
            return store.ticks.update(tick["id"], tick["holder"], **values)

    def _hand_back(self, tick: dict, records: builtins.list[dict], index: int, runs: builtins.list[str],
                   due_at: float | None = None) -> dict:
        """Give the tick back (pending, from step ``index``) for any daemon to go on with."""
        store = self._s.store()
        with store.transaction():
            store.ticks.update(tick["id"], tick["holder"], state="pending", holder=None, lease_until=None, step=index,
                               steps=records, run_ids=runs, due_at=time.time() if due_at is None else due_at)
            return store.ticks.get(tick["id"]) or tick

    def _lost(self, tick: dict) -> dict:
        store = self._s.store()
        with store.read():
            now = store.ticks.get(tick["id"]) or tick
        return {**now, "lost": f"the lease of tick {tick['id']} lapsed and {now.get('holder')} took it on"}

    def _finish(self, tick: dict, scenario: Scenario | None, state: State, records: builtins.list[dict], runs: builtins.list[str],
                *, note: str | None = None, report_it: bool = True) -> dict:
        store = self._s.store()
        incidents: builtins.list[dict] = []
        if state in ("succeeded", "failed"):
            try:
                incidents = incidents_since(self._s, tick["started_at"] or tick["created_at"])
            except WeirError:
                incidents = []
        outcome = note or "; ".join(r["message"] for r in records if r.get("message")) or state
        with store.transaction():  # the outcome and its reports (in the outbox) in one unit of work
            done = store.ticks.update(tick["id"], tick["holder"], state=state, finished_at=time.time(),
                                      lease_until=None, steps=records, run_ids=runs, outcome=outcome,
                                      incidents=incidents)
            final = store.ticks.get(tick["id"]) or tick
            if done and scenario is not None and report_it and scenario.reporters:
                reports = report(self._s.project(), store, scenario, final)
                if reports:
                    store.ticks.note(tick["id"], reports=reports)
                    final = {**final, "reports": reports}
        if not done:
            return self._lost(tick)
        return final

    def _runs_of(self, tick_id: int) -> builtins.list[str]:
        store = self._s.store()
        with store.read():
            return store.ticks.runs(tick_id)


def _failure(what: str, exc: Exception) -> StepOutcome:
    if isinstance(exc, WeirError):
        return StepOutcome(state="failed", message=f"{what}: {exc}")
    lines = traceback.format_exception(exc)
    text = (str(exc).strip().splitlines() or [""])[0]
    return StepOutcome(state="failed", message=f"{what}: {type(exc).__name__}: {text}".rstrip(": "),
                       details={"traceback": "".join(lines[-8:])[-4000:]})


__all__ = ["WAIT_POLL", "Claim", "ScenarioService"]
