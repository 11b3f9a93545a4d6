"""The venv executor: worker processes of another Python (an earlier run's environment,
materialized for a rebuild), each with its own copy of the project, building the specs it is
sent up to their staged files. The run itself (leases, audit, publish, records) stays in this
process, so only the asset code and the libraries it calls run in that environment.

``multiprocessing`` hands its children the parent's ``sys.path``, which would import this
environment's libraries there; so each worker is a plain ``python -m
weir.engine.executors.venv_worker`` speaking length-prefixed versioned messages (JSON, see
``engine.wire``) over its stdin and stdout: a worker of another weir says it cannot read them
rather than misreading them."""

from __future__ import annotations

import os
import queue
import struct
import subprocess
import threading
import time
from typing import IO, TYPE_CHECKING

from weir.engine.tasks import TaskOutcome, TaskSpec
from weir.engine.wire import WireError, outcome_from_message, spec_to_message

if TYPE_CHECKING:
    from weir.project.graph import Project

QUEUED_PER_WORKER = 1  # as in the process executor: a worker never waits for its next spec
HEADER = struct.Struct(">Q")


def send(stream: IO[bytes], message: dict) -> None:
    from weir.engine.wire import encode

    body = encode(message)
    stream.write(HEADER.pack(len(body)) + body)
    stream.flush()


def receive(stream: IO[bytes]) -> object:
    """The next message (decoded JSON); EOFError when the other side has gone."""
    from weir.engine.wire import decode

    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError
    size = HEADER.unpack(header)[0]
    body = stream.read(size)
    if len(body) < size:
        raise EOFError
    return decode(body)


def worker_environment() -> dict[str, str]:
    """This process's environment variables without those that would make the worker import
    this environment's packages instead of its own."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}


class _Worker:
    """One worker process and the thread that feeds it specs and collects its outcomes."""

    def __init__(self, python: str, project_root: str, inbox: queue.Queue, outbox: queue.Queue) -> None:
        self.python = python
        self.process = subprocess.Popen(
            [python, "-m", "weir.engine.executors.venv_worker", project_root, str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=worker_environment(),
        )
        self.inbox, self.outbox = inbox, outbox
        self.thread = threading.Thread(target=self._serve, name="weir-venv-worker", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        alive = True
        while True:
            spec = self.inbox.get()
            if spec is None:
                break
            started = time.time()
            if alive:
                try:
                    assert self.process.stdin is not None and self.process.stdout is not None
                    send(self.process.stdin, spec_to_message(spec))
                    self.outbox.put(outcome_from_message(receive(self.process.stdout)))
                    continue
                except WireError as exc:
                    self.outbox.put(TaskOutcome(asset=spec.asset, key=spec.key, staged=None, attempts=1, seconds=0.0,
                                                compute_seconds=0.0, started_at=started, error=str(exc)))
                    continue
                except (EOFError, OSError):
                    alive = False
            code = self.process.poll()
            self.outbox.put(TaskOutcome(
                asset=spec.asset, key=spec.key, staged=None, attempts=1, seconds=0.0, compute_seconds=0.0,
                started_at=started, error=f"the worker process of {self.python} ended"
                + (f" with exit code {code}" if code is not None else ""),
            ))
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()  # the worker's end of input: it exits
        except OSError:
            pass

    def stop(self, *, kill: bool) -> None:
        if kill:
            self.process.kill()
        self.inbox.put(None)


class VenvExecutor:
    """Builds specs in ``workers`` processes of ``python``; ``close(cancel=True)`` kills them."""

    name = "venv"

    def __init__(self, project: Project, *, python: str, workers: int = 1) -> None:
        self.workers = max(1, workers)
        self._inbox: queue.Queue = queue.Queue()
        self._outbox: queue.Queue = queue.Queue()
        self._pool = [_Worker(python, str(project.root), self._inbox, self._outbox) for _ in range(self.workers)]
        self._in_flight = 0
        self._closed = False

    def submit(self, spec: TaskSpec) -> None:
        self._in_flight += 1
        self._inbox.put(spec)

    def capacity(self) -> int:
        return max(0, self.workers * (1 + QUEUED_PER_WORKER) - self._in_flight)

    def completed(self, timeout: float | None = None) -> list[TaskOutcome]:
        if not self._in_flight:
            return []
        try:
            done = [self._outbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                done.append(self._outbox.get_nowait())
            except queue.Empty:
                break
        self._in_flight -= len(done)
        return done

    def close(self, *, cancel: bool = False) -> None:
        """Stop the workers (killed with ``cancel``); closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        if cancel:
            while True:  # specs not started yet are dropped
                try:
                    self._inbox.get_nowait()
                except queue.Empty:
                    break
        for worker in self._pool:
            worker.stop(kill=cancel)
        for worker in self._pool:
            worker.thread.join()
            worker.process.wait()
        self._in_flight = 0
