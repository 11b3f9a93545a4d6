"""Every metadata table, declared by concept in this package and gathered here: rows keep the
columns we filter on, indexed, plus JSON bodies for the rest. Migrations in ``store/migrations``
must match these modules (``tests/store`` compares them)."""

from __future__ import annotations

from weir.store.schema.base import metadata
from weir.store.schema.builds import held_versions, leases, partition_versions, partitions, run_tasks, runs
from weir.store.schema.operations import (
    alert_outbox,
    consumer_cursors,
    daemons,
    events,
    incident_diagnoses,
    incident_members,
    incident_scope,
    incidents,
    scenario_ticks,
    scenario_triggers,
)
from weir.store.schema.projects import code_versions, configurations, deployments, environments, projects
from weir.store.schema.quality import (
    baseline_resets,
    chart_states,
    check_results,
    histogram_bins,
    metric_points,
    profiles,
    signals,
    source_partitions,
)

__all__ = [
    "alert_outbox",
    "baseline_resets",
    "chart_states",
    "check_results",
    "code_versions",
    "configurations",
    "consumer_cursors",
    "daemons",
    "deployments",
    "environments",
    "events",
    "held_versions",
    "histogram_bins",
    "incident_diagnoses",
    "incident_members",
    "incident_scope",
    "incidents",
    "leases",
    "metadata",
    "metric_points",
    "partition_versions",
    "partitions",
    "profiles",
    "projects",
    "run_tasks",
    "runs",
    "scenario_ticks",
    "scenario_triggers",
    "signals",
    "source_partitions",
]
