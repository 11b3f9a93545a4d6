"""weir: a DataOps platform. Partitioned assets on Delta Lake, checked and published atomically.

The names users write projects with::

    import weir
    days = weir.daily(start="2013-01-01", end="2013-12-31")
    landing = weir.source("landing", path="landing/{partition}.csv", partitions=days)

    @weir.asset(partitions=days)
    def cleaned(landing): ...
"""

from weir.errors import ConfigError, DataError, PartitionError, ProjectError, RunFailed, WeirError
from weir.model import checks, steps, triggers
from weir.model.definitions import Asset, Input, Insight, Retry, Source
from weir.model.mappings import all_partitions, previous, window
from weir.model.monitors import drift, monitor, mute
from weir.model.partitions import daily, hourly, monthly, static, unpartitioned
from weir.model.scenarios import reporter
from weir.project.authoring import (
    asset,
    classification_metrics,
    insight,
    model,
    regression_metrics,
    scenario,
    source,
    sql_asset,
    upstream,
)

__version__ = "0.1.0"

__all__ = [
    "Asset",
    "ConfigError",
    "DataError",
    "Input",
    "Insight",
    "PartitionError",
    "ProjectError",
    "Retry",
    "RunFailed",
    "Source",
    "WeirError",
    "all_partitions",
    "asset",
    "checks",
    "classification_metrics",
    "daily",
    "drift",
    "hourly",
    "insight",
    "model",
    "monitor",
    "monthly",
    "mute",
    "previous",
    "regression_metrics",
    "reporter",
    "scenario",
    "source",
    "sql_asset",
    "static",
    "steps",
    "triggers",
    "unpartitioned",
    "upstream",
    "window",
]
