"""Runs, their tasks, leases, and the partitions they publish or hold."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Float, Index, Integer, String, Table, Text

from weir.store.schema.base import metadata

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
    Column(
        "replaces", JSON, nullable=False
    ),  # the published version it replaces: {version, run_id, code_version, rows}
    Column("cause", String(16), nullable=False),  # code | configuration
    Column("change", JSON, nullable=False),  # how it differs from what it replaces (engine.rollout.PartitionChange)
    Column("profile", JSON),  # its measurements, recorded when it is published
    Column("held_at", Float, nullable=False),
    Index("ix_held_versions_run", "run_id"),
)
