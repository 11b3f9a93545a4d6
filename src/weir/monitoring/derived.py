"""Derived series: drift scores (each column against its reference partitions) and training
drift (a model's features against its training data), computed from stored sketches and kept
as metric points so they are charted and judged like any series."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from weir.model.monitors import Drift, settle_drift
from weir.monitoring.policy import DRIFT_SCORE, TRAINING_DRIFT, partition_constant

if TYPE_CHECKING:
    from weir.monitoring.history import History
    from weir.project.graph import Node, Project
    from weir.store.store import MetadataStore


class DerivedSeries:
    """Mixed into the evaluator: needs ``project``, ``store`` and ``model_rows``."""

    project: Project
    store: MetadataStore
    model_rows: Callable[[str], list[dict]] | None  # (model asset) -> its published rows
    dry_run: bool = False  # a replay: derived points are computed, not stored

    # -- models ---------------------------------------------------------------------------
    def _training_drift(self, node: Node, new: list[str], history: History, run_id: str | None = None) -> dict:
        """For an asset that applies a model: the model's feature columns in the partitions it
        reads, against the partitions the model was trained on (from the stored sketches). The
        effect over its threshold is stored as the series ``training_drift`` of the asset and
        charted like ``drift_score``: features of a model trained on January differ every day
        in July, so what alerts is a day that differs more than usual, and really."""
        from weir.model.definitions import Asset
        from weir.monitoring import drift

        if not isinstance(node, Asset) or self.model_rows is None:
            return {}
        upstreams = [self.project.assets[i.upstream] for i in node.inputs.values() if i.upstream in self.project.assets]
        models = [(a.name, a.model) for a in upstreams if a.model is not None]
        found, points = {}, []
        for model_name, spec in models:
            rows = self.model_rows(model_name)
            if not rows:
                continue
            import json

            trained_on = json.loads(rows[-1].get("trained_on") or "{}")
            features = set(spec.features)
            for inp in node.inputs.values():
                source = inp.upstream
                if source == model_name or source not in trained_on:
                    continue
                with self.store.read():
                    reference = self.store.metrics.profiles(self.project.name, source, trained_on[source])
                    current = self.store.metrics.profiles(self.project.name, source, new)
                for key in new:
                    if key not in current:
                        continue
                    for column, sketch in current[key]["sketches"].items():
                        if column not in features:
                            continue
                        refs = [p["sketches"].get(column) for p in reference.values()]
                        verdict = drift.compare(refs, sketch, column=column)
                        if verdict is None:
                            continue
                        points.append((key, column, verdict.value / verdict.threshold if verdict.threshold else None))
                        found[(key, column, TRAINING_DRIFT)] = verdict
        self._keep_derived(node.name, TRAINING_DRIFT, points, history, run_id)
        return found

    def _keep_derived(self, name: str, metric: str, points: list, history: History, run_id: str | None) -> None:
        """Store derived points (drift scores) as metric points of ``name`` and add them to
        ``history``, so they are charted in this evaluation like any series."""
        if not points:
            return
        if not self.dry_run:  # a replay re-judges, it does not rewrite the store
            with self.store.transaction():
                self.store.metrics.put(self.project.name, name, metric, points, run_id=run_id,
                                       quarantined=history.quarantined)
        for key, column, score in points:
            history.series.setdefault((column, metric), {})[key] = score

    # -- drift ----------------------------------------------------------------------------
    def _drift_scores(self, name: str, settings: Sequence[object], keys: list[str], history: History,
                      run_id: str | None = None) -> dict:
        """Judge each column of each new partition against its reference (the previous
        ``window`` partitions, or a pinned range) from the stored sketches, and store the effect
        size over its drift threshold as the metric ``drift_score`` (added to ``history`` too).
        The scores are then monitored like any series, so a column whose distribution moves
        every day (delays with the weather) is judged against its usual day-to-day drift, not
        against sampling noise; an alert needs both: an unusual score and a real, significant
        change (``drift.judge``). Columns holding one value per partition are not judged, and
        partitions an open incident holds are in no reference."""
        from weir.monitoring import drift

        # references leave out blocked data, as a replay of the history does, so the scores a day
        # was judged on are the ones a replay finds; and, while an incident holds them, the held
        # partitions (a replay holds none)
        order, quarantined = history.order, history.quarantined
        constant = partition_constant(history)
        position = {k: i for i, k in enumerate(order)}
        widest = max([7] + [s.window for s in settings if isinstance(s, Drift)])
        needed = set(keys)
        for key in keys:
            if key in position:
                before = [k for k in order[: position[key]] if k not in quarantined]
                needed.update(before[-widest:])
                needed.update([k for k in before if k not in history.held][-widest:])
        for s in settings:
            if isinstance(s, Drift) and s.pinned is not None:
                first, last = s.pinned
                needed.update(k for k in order if first <= k <= last)
        with self.store.read():
            profiles = self.store.metrics.profiles(self.project.name, name, sorted(needed))
        verdicts, points = {}, []
        for key in keys:
            if key not in profiles:
                continue
            current = profiles[key]["sketches"]
            for column, sketch in current.items():
                settled = settle_drift(settings, column)
                if settled.mute or column in constant:
                    continue
                skip = quarantined | history.held_in(column, DRIFT_SCORE)
                if settled.pinned is not None:
                    first, last = settled.pinned
                    ref_keys = [k for k in order if first <= k <= last and k not in skip and k != key]
                else:
                    ref_keys = [k for k in order if k < key and k not in skip][-settled.window:]
                refs = [profiles[k]["sketches"].get(column) for k in ref_keys if k in profiles]
                refs = [r for r in refs if r and r.get("type") == sketch.get("type")]
                if len(refs) < min(settled.window, 3):
                    continue
                verdict = drift.compare(refs, sketch, column=column)
                if verdict is None:
                    continue
                verdicts[(key, column)] = verdict
                score = verdict.value / verdict.threshold if verdict.threshold else None
                points.append((key, column, score))
        self._keep_derived(name, DRIFT_SCORE, points, history, run_id)
        return verdicts
