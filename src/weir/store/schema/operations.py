"""The event log and its consumers: cursors, incidents, the alert outbox, scenarios and daemons."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text, UniqueConstraint, false

from weir.store.schema.base import metadata

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the cursor consumers read from
    Column("kind", String(40), nullable=False),
    Column("project", String(200), nullable=False),
    Column("asset", String(200)),
    Column("partition_key", String(64)),
    Column("run_id", String(40)),
    Column("at", Float, nullable=False),
    Column("data", JSON, nullable=False),
    Index("ix_events_kind", "kind", "id"),
    Index("ix_events_key", "project", "asset", "partition_key"),
)


consumer_cursors = Table(
    "consumer_cursors",
    metadata,
    Column("name", String(200), primary_key=True),  # one per consumer of the event log, e.g. openlineage:<project>
    Column("position", Integer, nullable=False),  # id of the last event the consumer is done with
    Column("updated_at", Float, nullable=False),
)


incidents = Table(
    "incidents",  # one root cause, one incident
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("root_asset", String(200), nullable=False),
    Column("root_partition", String(64)),
    Column("state", String(16), nullable=False),  # open | acknowledged | resolved
    Column("severity", String(16), nullable=False),  # low | medium | high | critical (incidents/severity.py)
    Column("severity_by_hand", Boolean, nullable=False, server_default=false()),  # an operator set it: it stays
    Column("title", Text, nullable=False),
    Column("reason", String(16)),  # when resolved: fixed | expected | false-alarm
    Column("note", Text),
    Column("opened_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("reopened", Integer, nullable=False, server_default="0"),
    Column("cause", JSON),  # what the fault came from: {kind, asset, environment_id | code_version | ...}
    Index("ix_incidents_state", "project", "state"),
)


incident_scope = Table(
    "incident_scope",  # every partition built under an incident's cause, and whether it was rebuilt good
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, nullable=False),
    Column("project", String(200), nullable=False),  # the incident's
    Column("asset", String(200), nullable=False),
    Column("partition_key", String(64), nullable=False),
    Column("run_id", String(40)),  # the build that made it bad
    Column("via", String(16), nullable=False),  # cause | lineage | trigger: how it entered the scope
    # which versions of it are bad: an asset's first bad Delta version (every later one is bad until
    # fixed), a source's bad delivery fingerprints (space-separated), "unpublished" (blocked or
    # failed: nobody could read it), None (not known: any version read counts)
    Column("version", String(200)),
    Column("why", Text, nullable=False),
    Column("added_at", Float, nullable=False),
    Column("fixed_run_id", String(40)),  # the build that made it good again (None: still bad)
    Column("fixed_at", Float),
    UniqueConstraint("incident_id", "asset", "partition_key", name="uq_incident_scope"),
    Index("ix_incident_scope_asset", "project", "asset", "partition_key"),
)


incident_diagnoses = Table(
    "incident_diagnoses",  # the diagnosis as it was told: at opening and at each change, never recomputed
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("change", String(16), nullable=False),  # opened | grew | reopened | resolved
    Column("diagnosis", JSON, nullable=False),
    Index("ix_incident_diagnoses_incident", "incident_id"),
)


incident_members = Table(
    "incident_members",  # the triggers that opened or joined an incident, and why they joined
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, nullable=False),
    Column("event_id", Integer),
    Column("kind", String(40), nullable=False),  # the event kind
    Column("project", String(200), nullable=False),  # the incident's
    Column("asset", String(200)),
    Column("partition_key", String(64)),
    Column("run_id", String(40)),
    Column("summary", Text, nullable=False),
    Column("why", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("series", String(300)),  # a monitor alert's series, "column metric": its later alerts continue it
    Index("ix_incident_members_incident", "incident_id"),
)


alert_outbox = Table(
    "alert_outbox",  # notifications, written with the incident change they announce, delivered later
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("key", String(200), nullable=False),  # idempotency: one per incident, route, audience and change
    Column("incident_id", Integer, nullable=False),
    Column("route", String(100), nullable=False),
    Column("audience", String(16), nullable=False),  # business | team
    Column("change", String(16), nullable=False),  # opened | reopened | resolved
    Column("state", String(16), nullable=False),  # pending | sending | delivered | dead | skipped
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("created_at", Float, nullable=False),
    Column("next_at", Float, nullable=False),  # not before: backoff and Retry-After
    Column("lease_until", Float),  # a sender holds it until then; a dead sender's lease runs out
    Column("delivered_at", Float),
    Column("last_error", Text),  # why the last attempt failed; for a skipped one, why it was not sent
    Column("message", Text),  # JSON, composed on the first attempt so every retry sends the same words
    Column("retried_by", String(200)),  # who last sent it again by hand (weir alerts retry)
    UniqueConstraint("key", name="uq_alert_outbox_key"),
    Index("ix_alert_outbox_due", "state", "next_at"),
    Index("ix_alert_outbox_incident", "incident_id"),
)


scenario_ticks = Table(
    "scenario_ticks",  # one occurrence of a scenario's trigger, run once by whoever claims it
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("scenario", String(200), nullable=False),
    # what the tick stands for, so it is created once: the cron time (UTC), a landing's hash, manual:<id>
    Column("scheduled_for", String(100), nullable=False),
    Column("trigger", String(20), nullable=False),  # cron | landed | published | incident | manual
    Column("fired_by", JSON, nullable=False),  # the times coalesced, the partitions landed, the events read
    Column("state", String(12), nullable=False),  # pending | running | succeeded | failed | skipped
    Column("created_at", Float, nullable=False),
    Column("due_at", Float, nullable=False),  # not claimed before
    Column("holder", String(100)),  # the daemon (or command) running it
    Column("lease_until", Float),  # renewed while it runs; a dead holder's lease lapses and another takes it on
    Column("claims", Integer, nullable=False, server_default="0"),
    Column("step", Integer, nullable=False, server_default="0"),  # the next step to run: those before are done
    Column("steps", JSON),  # per step: {step, kind, state, started_at, finished_at, message, runs, ...}
    Column("run_ids", JSON),  # the runs its steps started
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("outcome", Text),  # one line
    Column("incidents", JSON),  # the incidents its work opened or reopened: [{id, title, severity}]
    Column("reports", JSON),  # [{route, condition, where or error}]
    UniqueConstraint("project", "scenario", "scheduled_for", name="uq_scenario_ticks_occurrence"),
    Index("ix_scenario_ticks_due", "state", "due_at"),
    Index("ix_scenario_ticks_scenario", "project", "scenario", "id"),
)


scenario_triggers = Table(
    "scenario_triggers",  # what each scenario's triggers have handled: cron time, log cursor, files seen
    metadata,
    Column("project", String(200), primary_key=True),
    Column("scenario", String(200), primary_key=True),
    Column("state", JSON, nullable=False),  # {trigger id: {...}}
    Column("updated_at", Float, nullable=False),
)


daemons = Table(
    "daemons",  # one row per daemon process: its heartbeat says it is alive
    metadata,
    Column("id", String(100), primary_key=True),
    Column("host", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("stopped_at", Float),
    Column("projects", JSON),  # the projects it serves
    Column("doing", Text),  # what it is doing now, for 'weir daemon status'
)
