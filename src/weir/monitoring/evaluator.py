"""Monitors at work: after partitions of an asset or source are measured, every metric series
is judged with statistical process control, every column's distribution is compared with its
reference, and the schema with the previous partition's. What they find is stored as signals.

The series come from the metadata store (``metric_points``), the distributions from the stored
sketches (``profiles``): nothing is rescanned. A series is judged in one pass over its history
(``spc.chart``), twice: the second pass leaves out the points the first found out of control,
so an anomaly never widens the limits that later points are judged against. Quarantined
partitions and partitions with earlier alerts stay out of every baseline, and so do partitions
an open incident holds: while it is open they are judged against the last good history and
never become a new normal. The history judged is ``monitoring.history``'s; what is found is
stored in the forms of ``monitoring.signals``."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from weir.model.monitors import Monitor, settle_monitor
from weir.monitoring import forecast, spc
from weir.monitoring.derived import DerivedSeries
from weir.monitoring.history import History, calendar_positions, load_series, materiality
from weir.monitoring.policy import (
    ALERT,
    LEVEL_METRICS,
    TAIL,
    TAIL_METRICS,
    forecast_config,
    model_of,
    partition_constant,
    point_state,
    season_of,
    spc_config,
)
from weir.monitoring.signals import SignalRow, chart_signal, pattern_signals, schema_signals, signal_events

if TYPE_CHECKING:
    from weir.project.graph import Node, Project
    from weir.store.store import MetadataStore


@dataclass(kw_only=True)
class Evaluation:
    """What one evaluation found: signal rows (as stored) per partition key."""

    signals: list[dict] = field(default_factory=list)

    def alerts(self) -> list[dict]:
        return [s for s in self.signals if s["severity"] == ALERT]


def judge_series(
    values: list[float | None], exclude: list[bool], *, period: int | None, config: spc.SpcConfig,
    needed: range | None = None, season_exclude: list[bool] | None = None,
) -> list[dict]:
    """The control chart of one series, with out-of-control points left out of later baselines.
    The seasonal pattern is learnt from every point but ``season_exclude`` (quarantined ones):
    a point that alerted only because its season was not known yet is evidence of that season.
    With a ``period``, points whose season has too little history yet are judged without it."""
    rows = _two_pass(values, exclude, period, config, season_exclude)
    if period:
        wanted = needed if needed is not None else range(len(rows))
        if any(rows[i]["center"] is None and values[i] is not None for i in wanted):
            plain = _two_pass(values, exclude, None, config)
            rows = [p if r["center"] is None else r for r, p in zip(rows, plain)]
    return rows


def _two_pass(values: list[float | None], exclude: list[bool], period: int | None, config: spc.SpcConfig,
              season_exclude: list[bool] | None = None) -> list[dict]:
    season = season_exclude if season_exclude is not None else exclude
    rows = spc.chart(values, exclude=exclude, period=period, config=config, season_exclude=season)
    flagged = [any(s.severity == ALERT for s in r["signals"]) for r in rows]
    if any(flagged):
        again = [e or f for e, f in zip(exclude, flagged)]
        second = spc.chart(values, exclude=again, period=period, config=config, season_exclude=season)
        # a flagged point keeps its own first-pass verdict; later points are judged without it
        rows = [first if f else later for first, later, f in zip(rows, second, flagged)]
    return rows


class MonitorEvaluator(DerivedSeries):
    """Evaluates the monitors of assets and sources for newly measured partitions."""

    def __init__(self, project: Project, store: MetadataStore, *,
                 model_rows: Callable[[str], list[dict]] | None = None) -> None:
        self.project = project
        self.store = store
        self.model_rows = model_rows  # (model asset) -> its published rows (trained_on, features)

    def history(self, name: str, *, column: str | None = None, metric: str | None = None,
                fresh: Iterable[str] = (), start: str | None = None) -> History:
        """The stored series of ``name`` (or one of them), from partition ``start`` on. Points
        of ``fresh`` keys are judged as new even if they alerted before."""
        with self.store.read():
            points = self.store.metrics.series(self.project.name, name, column=column, metric=metric, start=start)
            alerted = self.store.signals.alerted_keys(self.project.name, name) - set(fresh)
            resets = [(r["column_name"], r["metric"], r["from_key"]) for r in self.store.baselines.list(self.project.name, name)]
            normal = self.store.incidents.resolved_partitions(self.project.name, name, "false-alarm")
            held = self.store.incidents.held_partitions(self.project.name, name)
        order, series, quarantined = load_series(points)
        return History(order=order, series=series, skip=quarantined | alerted | held, quarantined=quarantined,
                       resets=resets, normal=normal, held=held)

    @staticmethod
    def _start(node: Node, keys: list[str]) -> str | None:
        """The first partition worth loading to judge ``keys``: TAIL partitions before the
        earliest (None: everything, for schemes that cannot count back)."""
        scheme = node.partitions
        try:
            first = min(keys)
            earlier = scheme.shift(first, -TAIL) if scheme.is_partitioned else None
        except Exception:  # noqa: BLE001 - a key outside the scheme: load all
            return None
        return earlier or (scheme.keys()[0] if scheme.is_partitioned else None)

    def charts(self, name: str, history: History, *, since: int = 0, needed_from: int | None = None,
               states: dict | None = None) -> Iterator[tuple[str, str, Monitor, list[dict | None] | None]]:
        """(column, metric, settings, chart rows or None when muted) per series. With ``since``,
        the chart starts at that partition (rows before it are None): enough history for the
        baseline window, the season and the forecast errors to settle, without redrawing a whole
        year to judge one new day. With ``states`` (the saved forecast-chart states, updated in
        place), a series whose state was saved before ``needed_from`` with the same settings, and
        the same partitions held up to its last one, resumes from it: one step per new partition.
        Held partitions (``history.held``) are judged but kept out of every baseline."""
        node = self.project.node(name)
        settings = tuple(getattr(node, "monitors", ()))
        exclude = [k in history.skip for k in history.order][since:]
        season_exclude = [k in history.quarantined or k in history.held for k in history.order][since:]
        order = history.order[since:]
        index = {k: i for i, k in enumerate(history.order)}
        positions = calendar_positions(node.partitions, history.order)
        index_of = {p: i for i, p in enumerate(positions)}
        period = season_of(node.partitions)
        constant = partition_constant(history)
        for (col, m), by_key in sorted(history.series.items()):
            settled = settle_monitor(settings, col, m)
            named = any(s.matches(col, m) and not s.mute and s.metric != "*" for s in settings if hasattr(s, "sigma"))
            if not named and ((col in constant and m in LEVEL_METRICS) or m in TAIL_METRICS):
                settled = dataclasses.replace(settled, mute=True)
            if settled.mute:
                yield col, m, settled, None
                continue
            # a str seasonality can only be "auto" (Monitor validates it): the scheme's own period
            season = period if isinstance(settled.seasonality, str) else settled.seasonality
            if model_of(settled) == "classic":
                values = [by_key.get(k) for k in order]
                needed = range(needed_from - since, len(values)) if needed_from is not None else None
                rows: list[dict | None] = list(judge_series(values, exclude, period=season, config=spc_config(settled),
                                                            needed=needed, season_exclude=season_exclude))
                for r in rows:
                    assert r is not None
                    r["model"] = "classic"
                    if since:  # chart indices count from ``since``; signals name partitions of the whole history
                        r["signals"] = [dataclasses.replace(g, index=g.index + since, points=tuple(i + since for i in g.points))
                                        for g in r["signals"]]
                head: list[dict | None] = [None] * since
                yield col, m, settled, head + rows
                continue
            # each series keeps its own anomalies out of its baseline (the chart decides): only
            # blocked data is kept out of every series
            config = forecast_config(settled, m)
            material = materiality(history, col) if m == "mean" else {}
            resets = set(history.resets_in(col, m, history.order))
            held = history.held_in(col, m)
            fingerprint = _fingerprint(config, season, sorted(history.order[i] for i in resets), history.normal, held)
            saved = (states or {}).get((col, m))
            first = since
            if (saved and saved["last_key"] in index and saved["settings"] == fingerprint(saved["last_key"])
                    and (needed_from is None or index[saved["last_key"]] < needed_from)):
                at = index[saved["last_key"]]
                chart = forecast.Chart.from_json(saved["state"], config, season,
                                                 shift=positions[at] - saved["state"]["last"])
                first = at + 1
            else:
                chart = forecast.Chart(config, season)
            out: list[dict | None] = [None] * len(history.order)
            newest = len(history.order) - 1
            for t in range(first, len(history.order)):
                key = history.order[t]
                if t == newest and states is not None and chart.last >= 0:
                    # the state before the newest point: a re-delivery of that partition resumes too
                    last_key = history.order[index_of[chart.last]]
                    states[(col, m)] = {"last_key": last_key, "settings": fingerprint(last_key),
                                        "state": chart.to_json(), "changed": True}
                row = chart.step(positions[t], by_key.get(key), excluded=key in history.quarantined, reset=t in resets,
                                 material=material.get(key, 0.0), normal=key in history.normal, held=key in held)
                # the chart counts in calendar steps (a missing day keeps the weekdays in place);
                # rows and signals name positions in the history
                row["index"] = t
                row["signals"] = [dataclasses.replace(g, index=t, points=tuple(index_of[p] for p in g.points if p in index_of))
                                  for g in row["signals"]]
                out[t] = row
            yield col, m, settled, out

    def evaluate(self, name: str, keys: list[str], run_id: str | None = None) -> Evaluation:
        node = self.project.node(name)
        settings = tuple(getattr(node, "monitors", ()))
        history = self.history(name, fresh=keys, start=self._start(node, keys))
        verdicts = self._drift_scores(name, settings, keys, history, run_id)
        verdicts.update(self._training_drift(node, keys, history, run_id))
        index = {k: i for i, k in enumerate(history.order)}
        new = [k for k in keys if k in index]
        out = Evaluation()
        if not new:
            return out
        now = time.time()
        order, skip = history.order, history.skip

        def row(key: str, **values: Any) -> dict:
            return {"project": self.project.name, "asset": name, "partition_key": key, "run_id": run_id,
                    "created_at": now, "details": None, "direction": None, **values}

        first = min((index[k] for k in new), default=0)
        judgements = []
        with self.store.read():
            states = self.store.metrics.chart_states(self.project.name, name)
        for column, metric, settled, chart in self.charts(name, history, since=max(0, first - TAIL), needed_from=first,
                                                          states=states):
            for key in new:
                if history.series[(column, metric)].get(key) is None:
                    continue
                point = chart[index[key]] if chart is not None else None
                found = []
                for sig in point["signals"] if point else ():
                    signal = chart_signal(key, column, metric, sig, settled, verdicts, order, row)
                    if signal is not None:
                        found.append(signal)
                out.signals += found
                judgements.append({
                    "partition_key": key, "column_name": column, "metric": metric,
                    "center": point["center"] if point else None, "lower": point["lower"] if point else None,
                    "upper": point["upper"] if point else None, "state": point_state(point, found),
                    "model": point.get("model") if point else None,
                })
        out.signals += self._schema_changes(name, order, new, skip, row)
        out.signals += pattern_signals(history, new, row)
        with self.store.transaction():
            self.store.signals.replace(self.project.name, name, new, out.signals)
            self.store.metrics.judge(self.project.name, name, judgements)
            self.store.metrics.keep_chart_states(self.project.name, name, [
                {"column_name": col, "metric": m, "last_key": v["last_key"], "settings": v["settings"], "state": v["state"]}
                for (col, m), v in states.items() if v.pop("changed", False)])
            self.store.emit(*signal_events(out.alerts()))
        return out

    def replay(self, name: str, *, start: str | None = None) -> Evaluation:
        """Re-judge the stored history of ``name`` with today's settings, as if every partition
        had arrived in order, and store nothing: what would have been raised, from ``start`` on.
        Reads only stored metrics and sketches, so tuning a setting is an experiment of seconds.
        Nothing is held: the partitions open incidents hold today are judged as they arrived."""
        history = self.history(name)
        history.skip = set(history.quarantined)  # earlier verdicts are what is being re-judged
        history.held = set()
        keys = [k for k in history.order if start is None or k >= start]
        out = Evaluation()
        if not keys:
            return out
        node = self.project.node(name)
        settings = tuple(getattr(node, "monitors", ()))
        self.dry_run = True
        try:
            verdicts = self._drift_scores(name, settings, keys, history, None)
        finally:
            self.dry_run = False
        index = {k: i for i, k in enumerate(history.order)}
        now = time.time()

        def row(key: str, **values: Any) -> dict:
            return {"project": self.project.name, "asset": name, "partition_key": key, "run_id": None,
                    "created_at": now, "details": None, "direction": None, **values}

        for column, metric, settled, chart in self.charts(name, history):
            if chart is None:
                continue
            for key in keys:
                point = chart[index[key]]
                for sig in point["signals"] if point else ():
                    signal = chart_signal(key, column, metric, sig, settled, verdicts, history.order, row)
                    if signal is not None:
                        out.signals.append(signal)
        out.signals += self._schema_changes(name, history.order, keys, history.skip, row)
        out.signals += pattern_signals(history, keys, row)
        return out

    def _schema_changes(self, name: str, order: list[str], new: list[str], skip: set[str], row: SignalRow) -> list[dict]:
        """Columns added, removed or retyped since the previous partition that was not skipped."""
        previous = {}
        for key in new:
            before = [k for k in order if k < key and k not in skip]
            if before:
                previous[key] = before[-1]
        with self.store.read():
            profiles = self.store.metrics.profiles(self.project.name, name, sorted(set(new) | set(previous.values())))
        return schema_signals(new, previous, profiles, row)


MonitorRunner = MonitorEvaluator  # the name the engine and services knew it by


def _fingerprint(config: forecast.ForecastConfig, season: int | None, resets: list[str], normal: set[str],
                 held: set[str]) -> Callable[[str], str]:
    """The settings a saved chart state was drawn with, as of its last key: a state resumes only
    when they are the same. Held keys count up to that key (later ones the state has not seen),
    so a partition held or released there redraws the series."""
    def at(last_key: str) -> str:
        drawn: tuple = (config, season, resets, sorted(normal))
        upto = sorted(k for k in held if k <= last_key)
        return hashlib.sha1(repr(drawn + (upto,) if upto else drawn).encode()).hexdigest()
    return at


