"""Run and task states: the words ``weir runs``, ``weir runs show`` and the JSON forms use."""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    """What became of one partition build in a run."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED_CHECK = "failed_check"  # published, but an ``error`` check failed
    FAILED = "failed"
    UPSTREAM_FAILED = "upstream_failed"
    BLOCKED = "blocked"  # a ``block`` check failed: not published
    SKIPPED = "skipped"  # an input is not there
    HELD = "held"  # built and checked under changed code or configuration, awaiting 'weir approve'
    REJECTED = "rejected"  # held, then dropped by 'weir reject': the published version stayed
    CANCELLED = "cancelled"


FAILED_TASK_STATES = frozenset({TaskState.FAILED_CHECK, TaskState.FAILED, TaskState.UPSTREAM_FAILED, TaskState.BLOCKED})

