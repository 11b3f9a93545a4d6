"""What is measured of each partition and judged of it: checks, metrics, profiles, sources, signals."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, Index, Integer, String, Table, Text

from weir.store.schema.base import metadata

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
    Column("actor", String(200)),  # who accepted it (None: recorded before actors were kept)
    Index("ix_baseline_resets_asset", "project", "asset"),
)
