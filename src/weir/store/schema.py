"""Every metadata table, in one place. Rows keep the columns we filter on, indexed, plus JSON
bodies for the rest. Migrations in ``store/migrations`` must match this module."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

environments = Table(
    "environments",
    metadata,
    Column("id", String(64), primary_key=True),  # content hash
    Column("python", String(64), nullable=False),
    Column("platform", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("packages", JSON, nullable=False),  # {name: version}
    Column("origins", JSON),  # {name: {kind, url, commit, editable, site}}: where each came from
    Column("interpreter", Text),  # the interpreter's path, and the one a venv was made from
    Column("base_interpreter", Text),
    Column("weir_version", String(64)),
)

configurations = Table(
    "configurations",  # what configured runs besides code, stored once per content hash
    metadata,
    Column("id", String(64), primary_key=True),  # content hash
    Column("project", String(200), nullable=False),
    Column("project_file", Text, nullable=False),  # weir.toml as read
    Column("nodes", JSON, nullable=False),  # {asset or source: {checks | monitors | metrics | ...: [line]}}
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("trigger", String(40), nullable=False),
    Column("state", String(20), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("heartbeat_at", Float),
    Column("host", String(200)),
    Column("pid", Integer),
    Column("environment_id", String(64)),
    Column("configuration_id", String(64)),  # weir.toml, checks and monitors it ran with (configurations)
    Column("deployment_id", Integer),  # the deployment (project version at a code location) that ran it
    Column("actor", String(200)),  # who started it: the OS user of the CLI, the daemon, later an API user
    Column("request", JSON),  # what was asked: assets, partitions, flags
    Column("summary", JSON),  # counts per task state
    Column("error", Text),
    Index("ix_runs_state", "state"),
    Index("ix_runs_created", "created_at"),
)

run_tasks = Table(
    "run_tasks",
    metadata,
    Column("run_id", String(40), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("partition_key", String(64), primary_key=True),
    Column("project", String(200), nullable=False),
    Column("state", String(20), nullable=False),
    Column("reason", Text),
    Column("attempt", Integer, nullable=False, default=0),
    Column("code_version", String(32)),
    Column("input_versions", JSON),  # {upstream: {partition: version or source fingerprint}}
    Column("output_version", Integer),
    Column("row_count", Integer),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("seconds", Float),
    Column("staged_path", Text),
    Column("error", Text),
    Column("traceback", Text),
    Index("ix_run_tasks_asset", "project", "asset", "partition_key"),
)

partitions = Table(
    "partitions",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("partition_key", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # Delta version that published it
    Column("run_id", String(40), nullable=False),
    Column("code_version", String(32), nullable=False),
    Column("input_versions", JSON),
    Column("row_count", Integer),
    Column("published_at", Float, nullable=False),
)

partition_versions = Table(
    "partition_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("partition_key", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("run_id", String(40), nullable=False),
    Column("code_version", String(32), nullable=False),
    Column("row_count", Integer),
    Column("published_at", Float, nullable=False),
    Index("ix_partition_versions_key", "project", "asset", "partition_key"),
)

held_versions = Table(
    "held_versions",  # built, checked and staged, not published: awaiting 'weir approve' ([run] republish = "hold")
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("partition_key", String(64), primary_key=True),  # one held version per partition: a rebuild replaces it
    Column("run_id", String(40), nullable=False),  # the run that built it
    Column("code_version", String(32), nullable=False),
    Column("configuration_id", String(64)),
    Column("state", String(20), nullable=False),  # what publishing it makes its task: succeeded | failed_check
    Column("staged_path", Text, nullable=False),  # relative to the table folder
    Column("size", BigInteger, nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("input_versions", JSON),
    Column("replaces", JSON, nullable=False),  # the published version it replaces: {version, run_id, code_version, rows}
    Column("cause", String(16), nullable=False),  # code | configuration
    Column("change", JSON, nullable=False),  # how it differs from what it replaces (engine.rollout.PartitionChange)
    Column("profile", JSON),  # its measurements, recorded when it is published
    Column("held_at", Float, nullable=False),
    Index("ix_held_versions_run", "run_id"),
)

check_results = Table(
    "check_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("partition_key", String(64), nullable=False),
    Column("run_id", String(40)),
    Column("check_name", String(400), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("column_name", String(200)),
    Column("severity", String(10), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("observed", JSON),
    Column("threshold", Text),
    Column("failing_rows", Integer),
    Column("total_rows", Integer),
    Column("message", Text),
    Column("sample", JSON),
    Column("checked_at", Float, nullable=False),
    Index("ix_check_results_key", "project", "asset", "partition_key"),
    Index("ix_check_results_run", "run_id"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("partition_key", String(64), nullable=False),
    Column("column_name", String(200), nullable=False),  # '' for table-level metrics
    Column("metric", String(100), nullable=False),
    Column("value", Float),
    Column("run_id", String(40)),
    Column("quarantined", Boolean, nullable=False, default=False),  # measured on data that was not published
    Column("measured_at", Float, nullable=False),
    # as judged when the monitors evaluated this point: reads show these, never recompute them
    Column("center", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("state", String(12)),  # in control | warn | alert | warming up | muted; None: not judged
    Column("model", String(40)),  # what drew the expected value and limits, e.g. "level, trend, season"
    Index("ix_metric_points_series", "project", "asset", "metric", "column_name", "partition_key"),
    Index("ix_metric_points_key", "project", "asset", "partition_key"),
)

chart_states = Table(
    "chart_states",  # the forecast chart's state per series after its newest judged point
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("column_name", String(200), primary_key=True),
    Column("metric", String(100), primary_key=True),
    Column("last_key", String(64), nullable=False),
    Column("settings", String(64), nullable=False),  # a hash of what the state was drawn with
    Column("state", JSON, nullable=False),
)

profiles = Table(
    "profiles",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("partition_key", String(64), primary_key=True),
    Column("run_id", String(40)),
    Column("row_count", Integer, nullable=False),
    Column("sampled_rows", Integer),
    Column("quarantined", Boolean, nullable=False, default=False),
    Column("schema", JSON, nullable=False),  # {column: arrow type}
    Column("sketches", JSON, nullable=False),  # {column: {type, histogram?, top?, other?}}
    Column("measured_at", Float, nullable=False),
)

histogram_bins = Table(
    "histogram_bins",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("column_name", String(200), primary_key=True),
    Column("edges", JSON, nullable=False),
    Column("fixed_by", String(64)),  # the partition whose data chose them
    Column("created_at", Float, nullable=False),
)

source_partitions = Table(
    "source_partitions",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("partition_key", String(64), primary_key=True),
    Column("fingerprint", String(40), nullable=False),  # of the landed files that were checked
    Column("state", String(20), nullable=False),  # accepted | blocked
    Column("row_count", Integer),
    Column("malformed_rows", Integer, nullable=False, default=0),
    Column("message", Text),
    Column("sample", JSON),  # a few malformed lines, with file and line number
    Column("run_id", String(40)),
    Column("checked_at", Float, nullable=False),
)

signals = Table(
    "signals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("partition_key", String(64), nullable=False),
    Column("kind", String(20), nullable=False),  # spc | drift | schema
    Column("column_name", String(200), nullable=False),  # '' for table-level series
    Column("metric", String(100), nullable=False),  # the series, or the drift statistic
    Column("method", String(40), nullable=False),  # shewhart | ewma | cusum | psi | js | ks | schema ...
    Column("rule", String(200), nullable=False),
    Column("value", Float),
    Column("center", Float),
    Column("lower", Float),
    Column("upper", Float),
    Column("severity", String(10), nullable=False),
    Column("direction", String(10)),
    Column("details", JSON),  # points involved, statistics, categories...
    Column("run_id", String(40)),
    Column("created_at", Float, nullable=False),
    Index("ix_signals_key", "project", "asset", "partition_key"),
    Index("ix_signals_created", "project", "created_at"),
)

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

code_versions = Table(
    "code_versions",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("code_version", String(32), primary_key=True),
    Column("kind", String(10), nullable=False),  # python | sql
    Column("definition", Text, nullable=False),  # the function source or the SQL, as built
    Column("settings", JSON, nullable=False),  # partitions, inputs, model: what else shapes the data
    Column("location", String(400)),
    Column("created_at", Float, nullable=False),
)

consumer_cursors = Table(
    "consumer_cursors",
    metadata,
    Column("name", String(200), primary_key=True),  # one per consumer of the event log, e.g. openlineage:<project>
    Column("position", Integer, nullable=False),  # id of the last event the consumer is done with
    Column("updated_at", Float, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("project", String(200), primary_key=True),
    Column("asset", String(200), primary_key=True),
    Column("partition_key", String(64), primary_key=True),
    Column("holder", String(40), nullable=False),  # the run building the partition
    Column("acquired_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),  # renewed by the holder's heartbeat; a dead holder's lease lapses
    Index("ix_leases_holder", "holder"),
)

projects = Table(
    "projects",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("root", Text, nullable=False),  # the folder that holds its weir.toml
    Column("registered_at", Float, nullable=False),
)

deployments = Table(
    "deployments",  # a version of a project (a digest of what defines it) at a code location; one active per project
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("location", Text, nullable=False),  # the project folder (or bundle file) it is loaded from
    Column("kind", String(16), nullable=False),  # folder | bundle
    Column("active", Boolean, nullable=False, server_default=false()),
    Column("created_at", Float, nullable=False),
    Column("activated_at", Float),
    Column("actor", String(200)),  # who deployed it
    UniqueConstraint("project", "digest", "location", name="uq_deployments_version"),
    Index("ix_deployments_project", "project", "active"),
)

baseline_resets = Table(
    "baseline_resets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(200), nullable=False),
    Column("asset", String(200), nullable=False),
    Column("column_name", String(200)),  # None: every column of the asset; '' its table-level series
    Column("metric", String(100)),  # None: every metric of those columns
    Column("from_key", String(64), nullable=False),  # baselines form from this partition's point on
    Column("note", Text),
    Column("created_at", Float, nullable=False),
    Index("ix_baseline_resets_asset", "project", "asset"),
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
