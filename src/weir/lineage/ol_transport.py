"""Where OpenLineage events go: a JSON-lines file in the workspace, or an HTTP endpoint
(Marquez or any OpenLineage receiver). Both take one RunEvent at a time and say, by returning,
that they have it; ``flush`` makes what they took durable before the sender moves its cursor.

Imports ``openlineage-python`` at module level; weir imports this module only to send."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from openlineage.client.serde import Serde

# a short, bounded wait: three attempts 0 s and 0.4 s apart, and no waiting for a server's
# Retry-After; an endpoint that is down costs a send under a second (a refused connection,
# a 5xx) or three timeouts (a host that does not answer), then the events wait in the log
HTTP_RETRY: dict[str, Any] = {
    "total": 2, "connect": 2, "read": 2, "status": 2, "backoff_factor": 0.2,
    "status_forcelist": [429, 500, 502, 503, 504], "allowed_methods": ["POST"],
    "respect_retry_after_header": False,
}


class LineageTransport(Protocol):
    target: str

    def emit(self, event: Any) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class JsonLinesFile:
    """Appends one RunEvent per line. Each line is one ``write`` on a file opened for append,
    so senders in two processes never interleave inside a line; ``flush`` fsyncs."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.target = str(self.path)
        self._fd: int | None = None

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            if _ends_mid_line(self.path):  # a crash tore the last line: keep it apart from ours
                os.write(self._fd, b"\n")
        return self._fd

    def emit(self, event: Any) -> None:
        os.write(self._open(), (Serde.to_json(event) + "\n").encode())

    def flush(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _ends_mid_line(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


class HttpEndpoint:
    """POSTs each RunEvent to ``url``/``endpoint`` through openlineage-python's HttpTransport,
    with a short timeout and a few retries with backoff; raises if the endpoint does not
    accept an event (any status other than 2xx)."""

    def __init__(self, url: str, endpoint: str, timeout: float) -> None:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        self.target = url.rstrip("/") + "/" + endpoint.lstrip("/")
        self._http = HttpTransport(HttpConfig(url=url, endpoint=endpoint, timeout=timeout, retry=dict(HTTP_RETRY)))

    def emit(self, event: Any) -> None:
        self._http.emit(event)

    def flush(self) -> None:
        return None  # an event the endpoint answered 2xx to is delivered

    def close(self) -> None:
        self._http.close()
