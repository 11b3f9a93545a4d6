"""weir events as OpenLineage RunEvents.

One OpenLineage run per weir run (job ``<project>``) and one per partition built in it (job
``<asset>``, its ``parent`` facet pointing at the weir run). Run ids are uuid5 of the weir ids,
so sending an event twice names the same run. What an event does not carry (profile, metric
points, check results, environment, code) is read from the store, and only when it was
measured by the same weir run: a later rebuild's numbers are never put on an earlier run.

This module imports ``openlineage-python`` at module level; weir imports it only when events
are sent (it costs a quarter of a second)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attr
from openlineage.client.constants import __version__ as OPENLINEAGE_CLIENT_VERSION
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    RunFacet,
    base_subset_dataset,
    data_quality_assertions_dataset,
    data_quality_metrics_dataset,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    parent_run,
    processing_engine_run,
    schema_dataset,
    source_code_job,
    symlinks_dataset,
)

from weir.events import Event, EventKind
from weir.model.keys import AssetKey
from weir.model.partitions import UNPARTITIONED_KEY
from weir.model.rows import RunRecord, TaskRecord

if TYPE_CHECKING:
    from weir.store.store import MetadataStore

try:
    WEIR_VERSION = version("weir")
except PackageNotFoundError:  # running from a source tree that is not installed
    WEIR_VERSION = "0+unknown"

# the public home of weir's facet schemas (shipped as weir/lineage/ol_facets.json)
WEIR_SPEC = "https://weir.dev/spec/openlineage/1-0-0/WeirFacets.json"
PRODUCER = f"https://weir.dev/releases/{WEIR_VERSION}"
# fixed: run ids must come out the same on every machine and every send
RUN_ID_NAMESPACE = uuid.UUID("6f0b5c0e-3f5e-5d7a-9a51-7765697200a1")
LANGUAGE = "python"


def run_uuid(weir_run_id: str, asset: str | None = None, partition: str | None = None) -> str:
    """The OpenLineage runId of a weir run, or of one partition of one asset built in it."""
    name = weir_run_id if asset is None else f"{weir_run_id}\x1f{asset}\x1f{partition or ''}"
    return str(uuid.uuid5(RUN_ID_NAMESPACE, name))


@attr.define
class WeirRunFacet(RunFacet):
    runId: str
    project: str
    trigger: str | None = attr.field(default=None)
    asset: str | None = attr.field(default=None)
    partition: str | None = attr.field(default=None)
    codeVersion: str | None = attr.field(default=None)
    attempts: int | None = attr.field(default=None)
    rows: int | None = attr.field(default=None)
    state: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return f"{WEIR_SPEC}#/$defs/WeirRunFacet"


@attr.define
class WeirEnvironmentRunFacet(RunFacet):
    id: str
    python: str
    packages: dict[str, str]
    platform: str | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return f"{WEIR_SPEC}#/$defs/WeirEnvironmentRunFacet"


@attr.define
class DataQualityMetricsFacet(data_quality_metrics_dataset.DataQualityMetricsDatasetFacet):
    """Claims the 1-0-0 schema: weir fills no field added since (captureDate), and 1-0-0 is the
    version its tests validate against."""

    @staticmethod
    def _get_schema() -> str:
        return "https://openlineage.io/spec/facets/1-0-0/DataQualityMetricsDatasetFacet.json#/$defs/DataQualityMetricsDatasetFacet"


@dataclass(frozen=True, kw_only=True)
class Naming:
    """Where weir's jobs and datasets live in OpenLineage's namespaces."""

    project: str
    namespace: str  # of the jobs: the project, or [openlineage] namespace
    data_root: Path  # asset tables are <data_root>/<project>/<asset>
    project_root: Path  # source path templates are relative to it
    sources: Mapping[str, str] = field(default_factory=dict)  # source name -> path template

    def asset_dataset(self, asset: str) -> tuple[str, str]:
        """The data root, and the asset's key as ``<project>/<asset>``."""
        key = AssetKey(self.project, asset)
        return self.data_root.resolve().as_uri(), f"{key.project}/{key.name}"

    def source_dataset(self, source: str) -> tuple[str, str]:
        return self.project_root.resolve().as_uri(), self.sources.get(source, source)

    def table_path(self, asset: str) -> str:
        return str(self.data_root.resolve() / self.project / asset)


def _run_of(e: Event) -> str:
    """The weir run of an event being translated: ``translate`` passes on only events of a run."""
    assert e.run_id is not None
    return e.run_id


def _asset_of(e: Event) -> str:
    """The asset of a partition event: every one names the asset it is about."""
    assert e.asset is not None
    return e.asset


def _time(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat()


def _p(facet_class: Callable[..., Any], **fields: Any) -> Any:
    """A facet with weir as its producer (passed explicitly: the client's global producer
    belongs to whoever else uses OpenLineage in this process)."""
    return facet_class(**fields, producer=PRODUCER)


class Translator:
    """Turns weir events into RunEvents; must be called inside a store read scope."""

    def __init__(self, store: MetadataStore, naming: Naming) -> None:
        self.store = store
        self.naming = naming
        self._runs: dict[str, RunRecord | None] = {}
        self._envs: dict[str, dict | None] = {}
        self._tasks: dict[str, dict[tuple[str, str], TaskRecord]] = {}
        self._code: dict[tuple[str, str], dict | None] = {}
        self._handlers: dict[EventKind, Callable[[Event], list[RunEvent]]] = {
            EventKind.RUN_STARTED: self._run_started,
            EventKind.RUN_FINISHED: self._run_finished,
            EventKind.PARTITION_BUILT: self._partition_built,
            EventKind.PARTITION_PUBLISHED: self._partition_published,
            EventKind.PARTITION_BLOCKED: self._partition_blocked,
            EventKind.PARTITION_FAILED: self._partition_failed,
        }

    def translate(self, event: Event) -> list[RunEvent]:
        """The RunEvents for ``event``; none for kinds that are no run state (check results go
        out as ``dataQualityAssertions`` of their partition; signals and source admissions not)."""
        handler = self._handlers.get(event.kind)
        return handler(event) if handler and event.run_id else []

    # -- the weir run ---------------------------------------------------------------------
    def _run_job(self) -> Job:
        return Job(namespace=self.naming.namespace, name=self.naming.project,
                   facets={"jobType": _p(job_type_job.JobTypeJobFacet, processingType="BATCH", integration="WEIR",
                                         jobType="RUN")})

    def _run_started(self, e: Event) -> list[RunEvent]:
        facets = {**self._weir_run(e, state="running"), **self._environment(_run_of(e))}
        facets["processing_engine"] = _p(processing_engine_run.ProcessingEngineRunFacet, name="weir",
                                         version=WEIR_VERSION, openlineageAdapterVersion=OPENLINEAGE_CLIENT_VERSION)
        return [RunEvent(eventType=RunState.START, eventTime=_time(e.at), producer=PRODUCER,
                         run=Run(runId=run_uuid(_run_of(e)), facets=facets), job=self._run_job())]

    def _run_finished(self, e: Event) -> list[RunEvent]:
        state = e.data.get("state") or "failed"
        facets = self._weir_run(e, state=state)
        if state == "succeeded":
            kind = RunState.COMPLETE
        else:
            kind = RunState.ABORT if state == "cancelled" else RunState.FAIL
            counts = ", ".join(f"{n} {k}" for k, n in sorted((e.data.get("counts") or {}).items()))
            facets["errorMessage"] = _error(e.data.get("error") or f"run {state} ({counts or 'nothing ran'})")
        return [RunEvent(eventType=kind, eventTime=_time(e.at), producer=PRODUCER,
                         run=Run(runId=run_uuid(_run_of(e)), facets=facets), job=self._run_job())]

    def _weir_run(self, e: Event, **extra: Any) -> dict[str, Any]:
        run = self._run(_run_of(e))
        return {"weir_run": _p(WeirRunFacet, runId=e.run_id, project=e.project,
                               trigger=(run.trigger if run else None) or e.data.get("trigger"), **extra)}

    def _environment(self, run_id: str) -> dict[str, Any]:
        run = self._run(run_id)
        env_id = run.environment_id if run else None
        if not env_id:
            return {}
        if env_id not in self._envs:
            self._envs[env_id] = self.store.environments.get(env_id)
        env = self._envs[env_id]
        if env is None:
            return {}
        return {"weir_environment": _p(WeirEnvironmentRunFacet, id=env["id"], python=env["python"],
                                       platform=env["platform"], packages=dict(env["packages"] or {}))}

    def _run(self, run_id: str) -> RunRecord | None:
        if run_id not in self._runs:
            self._runs[run_id] = self.store.runs.get(run_id)
        return self._runs[run_id]

    def _task(self, e: Event) -> TaskRecord | None:
        run_id = _run_of(e)
        if run_id not in self._tasks:
            self._tasks[run_id] = {(t.asset, t.partition_key): t for t in self.store.runs.tasks(run_id)}
        return self._tasks[run_id].get((_asset_of(e), e.partition_key or UNPARTITIONED_KEY))

    # -- one partition of one asset -------------------------------------------------------
    def _partition_built(self, e: Event) -> list[RunEvent]:
        started = e.at - float(e.data.get("seconds") or 0)  # the build's start: its duration shows
        return [self._start(e, started, e.data.get("code_version"))]

    def _partition_published(self, e: Event) -> list[RunEvent]:
        out = [self._start(e, e.at, e.data.get("code_version"))] if e.data.get("recovered") else []
        key = e.partition_key or UNPARTITIONED_KEY
        facets: dict[str, Any] = self._measured(e, key)
        if e.data.get("version") is not None:
            facets["version"] = _p(dataset_version_dataset.DatasetVersionDatasetFacet, datasetVersion=str(e.data["version"]))
        run_facets = {**self._partition_run(e, state=e.data.get("state"), rows=e.data.get("rows"))}
        out.append(RunEvent(eventType=RunState.COMPLETE, eventTime=_time(e.at), producer=PRODUCER,
                            run=Run(runId=run_uuid(_run_of(e), e.asset, key), facets=run_facets), job=self._asset_job(e),
                            inputs=self._inputs(e.data.get("inputs")), outputs=[self._output(e, facets)]))
        return out

    def _partition_blocked(self, e: Event) -> list[RunEvent]:
        key = e.partition_key or UNPARTITIONED_KEY
        facets = self._partition_run(e, state="blocked", rows=e.data.get("rows"))
        facets["errorMessage"] = _error(f"quarantined: {e.data.get('message') or 'a block check failed'}")
        assertions = self._assertions(e, key)
        return [RunEvent(eventType=RunState.FAIL, eventTime=_time(e.at), producer=PRODUCER,
                         run=Run(runId=run_uuid(_run_of(e), e.asset, key), facets=facets), job=self._asset_job(e),
                         inputs=self._inputs(_input_versions(self._task(e))),
                         outputs=[self._output(e, {"dataQualityAssertions": assertions} if assertions else {})])]

    def _partition_failed(self, e: Event) -> list[RunEvent]:
        """A build that raised, or never ran because an upstream failed: it has no START of its
        own in weir's log, so it gets one here, followed by the FAIL."""
        key = e.partition_key or UNPARTITIONED_KEY
        task = self._task(e)
        state = e.data.get("state") or "failed"
        message = e.data.get("error") or e.data.get("reason") or (task.error if task else None) or state
        facets = self._partition_run(e, state=state, attempts=e.data.get("attempts"))
        facets["errorMessage"] = _error(message, task.traceback if task else None)
        return [self._start(e, e.at, task.code_version if task else None),
                RunEvent(eventType=RunState.FAIL, eventTime=_time(e.at), producer=PRODUCER,
                         run=Run(runId=run_uuid(_run_of(e), e.asset, key), facets=facets), job=self._asset_job(e),
                         inputs=self._inputs(_input_versions(task)), outputs=[self._output(e, {})])]

    def _start(self, e: Event, at: float, code_version: str | None) -> RunEvent:
        key = e.partition_key or UNPARTITIONED_KEY
        facets = {**self._partition_run(e, codeVersion=code_version, attempts=e.data.get("attempts")),
                  **self._environment(_run_of(e))}
        return RunEvent(eventType=RunState.START, eventTime=_time(at), producer=PRODUCER,
                        run=Run(runId=run_uuid(_run_of(e), e.asset, key), facets=facets),
                        job=self._asset_job(e, code_version), inputs=self._inputs(_input_versions(self._task(e))),
                        outputs=[self._output(e, {})])

    def _partition_run(self, e: Event, **extra: Any) -> dict[str, Any]:
        ns, project = self.naming.namespace, self.naming.project
        parent_id = run_uuid(_run_of(e))
        parent = _p(parent_run.ParentRunFacet, run=parent_run.Run(runId=parent_id),
                    job=parent_run.Job(namespace=ns, name=project),
                    root=parent_run.Root(run=parent_run.RootRun(runId=parent_id),
                                         job=parent_run.RootJob(namespace=ns, name=project)))
        fields = {k: v for k, v in extra.items() if v is not None}
        return {"parent": parent, **self._weir_run(e, asset=e.asset, partition=e.partition_key, **fields)}

    def _asset_job(self, e: Event, code_version: str | None = None) -> Job:
        facets: dict[str, Any] = {"jobType": _p(job_type_job.JobTypeJobFacet, processingType="BATCH",
                                                integration="WEIR", jobType="ASSET")}
        asset = _asset_of(e)
        if code_version and (asset, code_version) not in self._code:
            self._code[(asset, code_version)] = self.store.code.get(e.project, asset, code_version)
        code = self._code.get((asset, code_version)) if code_version else None
        if code:
            facets["sourceCode"] = _p(source_code_job.SourceCodeJobFacet, language=code["kind"],
                                      sourceCode=code["definition"])
        return Job(namespace=self.naming.namespace, name=asset, facets=facets)

    # -- datasets -------------------------------------------------------------------------
    def _output(self, e: Event, facets: dict[str, Any]) -> OutputDataset:
        namespace, name = self.naming.asset_dataset(_asset_of(e))
        facets = {**facets, "symlinks": _p(symlinks_dataset.SymlinksDatasetFacet, identifiers=[
            symlinks_dataset.Identifier(namespace="file", name=self.naming.table_path(_asset_of(e)), type="TABLE")])}
        key = e.partition_key or UNPARTITIONED_KEY
        output_facets = {}
        if key != UNPARTITIONED_KEY:
            output_facets["subset"] = _p(base_subset_dataset.OutputSubsetOutputDatasetFacet,
                                         outputCondition=_partitions({key: {"partition": key}}))
        return OutputDataset(namespace=namespace, name=name, facets=facets, outputFacets=output_facets)

    def _inputs(self, inputs: Mapping[str, Mapping[str, Any]] | None) -> list[InputDataset]:
        """{upstream: {partition: Delta version, or 'f:<fingerprint>' for a source}}."""
        out = []
        for upstream, versions in sorted((inputs or {}).items()):
            is_source = any(isinstance(v, str) and v.startswith("f:") for v in versions.values())
            namespace, name = (self.naming.source_dataset if is_source else self.naming.asset_dataset)(upstream)
            dims = {
                k: {"partition": k, **({"fingerprint": str(v)[2:]} if is_source else {"version": v})}
                for k, v in sorted(versions.items())
            }
            input_facets = {}
            if any(k != UNPARTITIONED_KEY for k in dims):
                input_facets["subset"] = _p(base_subset_dataset.InputSubsetInputDatasetFacet,
                                            inputCondition=_partitions(dims))
            out.append(InputDataset(namespace=namespace, name=name, inputFacets=input_facets))
        return out

    def _measured(self, e: Event, key: str) -> dict[str, Any]:
        """Schema, metrics and check results of the partition, as this run measured them."""
        facets: dict[str, Any] = {}
        profile = self.store.metrics.profiles(e.project, _asset_of(e), [key]).get(key)
        if profile and profile["run_id"] == e.run_id:
            facets["schema"] = _p(schema_dataset.SchemaDatasetFacet, fields=[
                schema_dataset.SchemaDatasetFacetFields(name=col, type=str(kind), ordinal_position=i)
                for i, (col, kind) in enumerate((profile["schema"] or {}).items(), start=1)])
        points = [p for p in self.store.metrics.series(e.project, _asset_of(e), start=key, end=key)
                  if p["partition_key"] == key and p["run_id"] == e.run_id]
        if points:
            facets["dataQualityMetrics"] = _metrics(points, (profile or {}).get("schema") or {})
        assertions = self._assertions(e, key)
        if assertions:
            facets["dataQualityAssertions"] = assertions
        return facets

    def _assertions(self, e: Event, key: str) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet | None:
        newest: dict[str, dict] = {}
        for r in self.store.checks.list(e.project, asset=e.asset, partition=key, run_id=e.run_id, latest=False):
            if r["check_name"] not in newest or r["id"] > newest[r["check_name"]]["id"]:
                newest[r["check_name"]] = r
        if not newest:
            return None
        A = data_quality_assertions_dataset.Assertion
        return _p(data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet, assertions=[
            A(assertion=r["kind"], success=bool(r["passed"]), column=r["column_name"] or None, severity=r["severity"],
              name=r["check_name"], expected=r["threshold"] or None,
              actual=None if r["observed"] is None else str(r["observed"]), description=r["message"] or None,
              params=None)
            for r in sorted(newest.values(), key=lambda r: r["check_name"])])


def _partitions(dims: Mapping[str, dict]) -> Any:
    P = base_subset_dataset.Partition
    return base_subset_dataset.PartitionSubsetCondition(partitions=[P(identifier=k, dimensions=d) for k, d in dims.items()])


def _error(message: str, traceback: str | None = None) -> error_message_run.ErrorMessageRunFacet:
    return _p(error_message_run.ErrorMessageRunFacet, message=message, programmingLanguage=LANGUAGE,
              stackTrace=traceback or None)


def _metrics(points: list[dict], schema: Mapping[str, str]) -> DataQualityMetricsFacet:
    """The dataQualityMetrics facet from weir's metric points: row_count, and per column
    null_fraction, distinct_count, min/max and p01/p50/p99 (numeric columns only: weir keeps
    temporal extremes as epoch seconds, which the facet has no unit for)."""
    from weir.quality.profile import QUANTILES, column_kind

    values = {(p["column_name"], p["metric"]): p["value"] for p in points}
    rows = values.get(("", "row_count"))
    M = data_quality_metrics_dataset.ColumnMetrics
    columns = {}
    for col in sorted({c for c, _ in values if c}):
        numeric = column_kind(schema.get(col, "")) == "numeric"
        nulls = values.get((col, "null_fraction"))
        null_count = round(nulls * rows) if nulls is not None and rows is not None else None
        distinct = values.get((col, "distinct_count"))
        quantiles = {str(q): values[(col, name)] for name, q in QUANTILES.items() if values.get((col, name)) is not None}
        columns[col] = M(
            nullCount=null_count, distinctCount=None if distinct is None else int(distinct),
            count=None if null_count is None else float(rows - null_count),
            min=values.get((col, "min")) if numeric else None, max=values.get((col, "max")) if numeric else None,
            quantiles=quantiles if numeric and quantiles else None,
        )
    return _p(DataQualityMetricsFacet, columnMetrics=columns, rowCount=None if rows is None else int(rows))


def _input_versions(task: TaskRecord | None) -> Any:
    return task.input_versions if task else None
