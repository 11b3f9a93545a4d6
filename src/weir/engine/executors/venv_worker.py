"""A worker of the venv executor, run by another Python as ``python -m
weir.engine.executors.venv_worker PROJECT_ROOT PARENT_PID``: it loads the project once, then
builds each task message read from stdin and writes its outcome message to stdout (``engine.wire``),
until stdin closes. What
the asset code prints goes to stderr, so it never mixes with the outcomes."""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback


def serve(project_root: str, parent: int) -> None:
    from weir.engine.executors.processes import die_with_parent
    from weir.engine.executors.venv import receive, send
    from weir.engine.tasks import TaskOutcome, execute
    from weir.engine.wire import WireError, outcome_to_message, spec_from_message

    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # print() in asset code lands on stderr
    inbox = sys.stdin.buffer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it cancels the workers
    die_with_parent(parent)
    project, failure = None, None
    try:
        from weir.project.loader import load_project

        project = load_project(project_root)
    except Exception as exc:  # noqa: BLE001 - every spec reports why the project did not load here
        failure = (f"the project does not load in {sys.executable}: {type(exc).__name__}: {exc}", traceback.format_exc())
    while True:
        try:
            message = receive(inbox)
        except EOFError:
            return
        try:
            spec = spec_from_message(message)
        except WireError as exc:  # a driver of another weir: say so for the task it sent
            got = message if isinstance(message, dict) else {}
            send(protocol, outcome_to_message(TaskOutcome(
                asset=str(got.get("asset")), key=str(got.get("key")), staged=None, attempts=1, seconds=0.0,
                compute_seconds=0.0, started_at=time.time(), error=f"{sys.executable}: {exc}")))
            continue
        if project is None:
            assert failure is not None
            outcome = TaskOutcome(asset=spec.asset, key=spec.key, staged=None, attempts=1, seconds=0.0,
                                  compute_seconds=0.0, started_at=time.time(), error=failure[0], traceback=failure[1])
        else:
            outcome = execute(project.assets[spec.asset], spec)
        send(protocol, outcome_to_message(outcome))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
