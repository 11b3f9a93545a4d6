"""``weir daemon``: the loop that runs scenarios without anyone typing a command.

Each pass, for every project it serves: close runs whose process died; evaluate the triggers
of every enabled scenario into ticks (each occurrence once); claim the ticks that are due and
run them, one at a time, renewing their leases from a background thread; then bring incidents
up to date with the log, send OpenLineage events and deliver the alert outbox. Between passes
it sleeps ``interval`` seconds, less when a data trigger's debounce ends sooner; and it looks at
the landing folders it watches several times a second (one stat each), starting the next pass
as soon as a file lands.

SIGTERM or SIGINT: the current step finishes (a build in progress is cancelled as ``weir run``
cancels it), the tick is handed back at the step it stands at for the next daemon, and the
loop ends. A daemon killed outright leaves its ticks to lapse; the next daemon takes them on."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from weir.daemon.registry import reap, register
from weir.scenarios.lease import LEASE_SECONDS, LeaseKeeper, new_holder

if TYPE_CHECKING:
    from weir.alerts.service import AlertService
    from weir.consumers import Pumped
    from weir.incidents.service import IncidentService
    from weir.lineage.openlineage import OpenLineageService
    from weir.project.graph import Project
    from weir.scenarios.service import ScenarioService
    from weir.store.store import MetadataStore

DEFAULT_INTERVAL = 1.0  # seconds between passes
WATCH_SECONDS = 0.2  # between passes, how often the landing folders are looked at (one stat each)
HOUSEKEEPING_SECONDS = 5.0  # the outbox is delivered (retries come due) and dead daemons looked for this often


class Site(Protocol):
    """One project the daemon serves, with the services it drives (a Workspace)."""

    @property
    def project(self) -> Project: ...

    @property
    def store(self) -> MetadataStore: ...

    home: Path  # the workspace folder (left out of the project's fingerprint when inside it)
    scenarios: ScenarioService
    incidents: IncidentService
    alerts: AlertService
    openlineage: OpenLineageService

    def recover(self) -> list[dict]: ...

    def reload(self) -> Project: ...

    def pump(self) -> Pumped: ...


def stamp(at: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if at is None else at, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")


def tick_line(tick: dict) -> str:
    """The daemon's one line about a tick it ran."""
    from weir.scenarios.reports import describe_fired

    why = describe_fired(tick.get("fired_by") or {})
    head = f"tick {tick['id']} {tick['scenario']} ({why})"
    if tick.get("lost"):
        return f"{head}: {tick['lost']}"
    if tick["state"] == "pending":
        return f"{head}: handed back at step {int(tick['step']) + 1}"
    seconds = (tick["finished_at"] or 0) - (tick["started_at"] or 0)
    line = f"{head}: {tick['state']} in {seconds:.1f} s: {tick.get('outcome') or ''}"
    reports = tick.get("reports") or []
    if reports:
        line += "; told " + ", ".join(f"{r['route']}" + (f" (failed: {r['error']})" if r.get("error") else "")
                                      for r in reports)
    return line


class Daemon:
    """Serves ``sites`` (the first one's store holds the daemon's row) until stopped."""

    def __init__(self, sites: Sequence[Site], *, interval: float = DEFAULT_INTERVAL,
                 log: Callable[[str], None] = lambda line: None, lease: float = LEASE_SECONDS) -> None:
        if not sites:
            raise ValueError("a daemon serves at least one project")
        self.sites = list(sites)
        self.interval = interval
        self.log = log
        self.lease = lease
        self.id = new_holder("daemon")
        self.stopping = threading.Event()
        self._doing = "idle"
        self._events_seen: dict[str, int] = {}
        self._delivered_at: dict[str, float] = {}
        self._reaped_at = 0.0
        self._files: dict[int, tuple[str, float]] = {}  # site -> (fingerprint of its project's files, when taken)

    @classmethod
    def serving(cls, first: Site, open_project: Callable[[str], Site], *, interval: float = DEFAULT_INTERVAL,
                log: Callable[[str], None] = lambda line: None) -> Daemon:
        """A daemon for ``first`` and every other project registered in its workspace (opened
        with ``open_project(root)``); a project that does not load is left out, in one line."""
        from weir.errors import WeirError

        sites = [first]
        with first.store.read():
            known = first.store.projects.all()
        for name, root in sorted(known.items()):
            if Path(root).resolve() == first.project.root or not (Path(root) / "weir.toml").is_file():
                continue
            other = open_project(root)
            try:
                _ = other.project
            except WeirError as exc:
                log(f"{stamp()} project {name} ({root}) is left out: {exc}")
                continue
            sites.append(other)
        return cls(sites, interval=interval, log=log)

    @property
    def store(self) -> MetadataStore:
        return self.sites[0].store

    def run(self, *, once: bool = False) -> None:
        """Register, then pass after pass until SIGTERM/SIGINT (or one pass with ``once``).
        Raises UsageError when another daemon already runs on a SQLite store."""
        names = [s.project.name for s in self.sites]
        dead = register(self.store, self.id, names)
        keeper = LeaseKeeper(self.store, self.id, lease=self.lease, beat=self._beat).start()
        restore = self._catch_signals()
        alone = " (SQLite: the only daemon)" if self.store.backend == "sqlite" else ""
        self.log(f"{stamp()} daemon {self.id} started: {', '.join(names)}; a pass every {self.interval:g} s; "
                 f"store {self.store.backend}{alone}")
        self._dead(dead)
        why = "stopped"
        try:
            while not self.stopping.is_set():
                self.run_pass()
                if once:
                    break
                self._sleep()
        except KeyboardInterrupt:
            why = "interrupted"
        finally:
            restore()
            keeper.stop()
            with self.store.transaction():
                self.store.daemons.stop(self.id, at=time.time(), doing=why)
            self.log(f"{stamp()} daemon {self.id} {why}")

    def run_pass(self) -> None:
        """One pass over every project; an error in one is one line, and the next pass tries again."""
        if time.monotonic() - self._reaped_at >= HOUSEKEEPING_SECONDS:  # dead daemons: looked for now and then
            self._reaped_at = time.monotonic()
            self._dead(reap(self.store, me=self.id))
        for site in self.sites:
            if self.stopping.is_set():
                return
            try:
                self._serve(site)
            except Exception as exc:  # noqa: BLE001 - one project's trouble never stops the daemon
                text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                self.log(f"{stamp()} error in project {_name(site)}: {text}")

    def _serve(self, site: Site) -> None:
        self._reload_if_changed(site)
        for run in site.recover():
            self.log(f"{stamp()} run {run['id']} was closed as failed: {run['error']}")
        site.scenarios.evaluate()
        ran = False
        while not self.stopping.is_set():
            claim = site.scenarios.claim(self.id, lease=self.lease)
            if claim is None:
                break
            self._doing = f"tick {claim.tick['id']} of {claim.tick['scenario']}"
            try:
                tick = site.scenarios.execute(claim, stopping=self.stopping.is_set)
            except KeyboardInterrupt:  # SIGTERM or SIGINT during a build: the tick was handed back
                self.stopping.set()
                self.log(f"{stamp()} tick {claim.tick['id']} {claim.tick['scenario']}: handed back (interrupted)")
                return
            finally:
                self._doing = "idle"
            self.log(f"{stamp()} {tick_line(tick)}")
            ran = True
        self._housekeep(site, ran)

    def _housekeep(self, site: Site, ran: bool) -> None:
        """The pump (incidents, OpenLineage, alerts) when the log grew or a tick ran; the alert
        outbox alone every few seconds (retries come due)."""
        store, name = site.store, site.project.name
        with store.read():
            last = store.events.last_id()
        now = time.time()
        done = None
        if ran or last != self._events_seen.get(name):  # the one after-write pump
            pumped = site.pump()
            synced = pumped.get("incidents")
            for incident_id in (synced.opened + synced.reopened) if synced else []:
                self.log(f"{stamp()} incident {incident_id} opened ('weir incidents show {incident_id}')")
            for incident_id in synced.resolved if synced else []:
                self.log(f"{stamp()} incident {incident_id} resolved (fixed)")
            for warning in pumped.warnings:
                self.log(f"{stamp()} {warning}")
            done = pumped.get("alerts")
            self._delivered_at[name] = now
            with store.read():
                self._events_seen[name] = store.events.last_id()
        elif now - self._delivered_at.get(name, 0.0) >= HOUSEKEEPING_SECONDS:  # retries come due
            self._delivered_at[name] = now
            done = site.alerts.deliver() if site.project.config.alerts.routes else None
        if done is not None and (done.sent or done.failed or done.dead):
            self.log(f"{stamp()} alerts: {len(done.sent)} sent, {len(done.failed)} to retry, {len(done.dead)} dead")

    def _reload_if_changed(self, site: Site) -> None:
        """Every few seconds: if the project's files changed (code, weir.toml, scenarios.yml),
        load it again, so new ticks run what is there now. A project that no longer loads is
        one line, and the daemon goes on with it as it was."""
        from weir.project.manifest import fingerprint

        now = time.monotonic()
        known = self._files.get(id(site))
        if known is not None and now - known[1] < HOUSEKEEPING_SECONDS:
            return
        root = site.project.root
        key = fingerprint(root, skip=site.home)
        self._files[id(site)] = (key, now)
        if known is None or known[0] == key:
            return
        try:
            site.reload()
        except Exception as exc:  # noqa: BLE001 - a project being edited: keep serving it as it was
            text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.log(f"{stamp()} project {site.project.name} changed but does not load: {text}; going on with it as it was")
            return
        self.log(f"{stamp()} project {site.project.name} changed: loaded again "
                 f"({len(site.project.scenarios)} scenario(s))")

    def _sleep(self) -> None:
        """Until the next pass: ``interval`` seconds, less when a data trigger's debounce ends
        sooner, or as soon as a file lands in a watched folder."""
        end = time.time() + self.interval
        ready = [s.scenarios.ready_at for s in self.sites if s.scenarios.ready_at is not None]
        if ready:
            end = min(end, min(ready))
        while not self.stopping.is_set():
            left = end - time.time()
            if left <= 0 or self.stopping.wait(min(left, WATCH_SECONDS)):
                return
            if any(s.scenarios.arrivals() for s in self.sites):
                return

    def _dead(self, closed: list[dict]) -> None:
        for row in closed:
            self.log(f"{stamp()} daemon {row['id']} is dead ({row['why']}): its ticks are free to take on")

    def _beat(self, now: float) -> None:
        self.store.daemons.beat(self.id, at=now, doing=self._doing)

    def _catch_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        saved = {s: signal.signal(s, self._signalled) for s in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for s, handler in saved.items():
                signal.signal(s, handler)

        return restore

    def _signalled(self, signum: int, _frame: object) -> None:
        if self.stopping.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.stopping.set()


def _name(site: Site) -> str:
    try:
        return site.project.name
    except Exception:  # noqa: BLE001 - a project that does not load
        return "?"


__all__ = ["DEFAULT_INTERVAL", "Daemon", "Site", "tick_line"]
