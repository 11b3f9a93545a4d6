"""Capture the running interpreter's environment exactly: Python, platform, every distribution."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class EnvironmentSnapshot:
    """Python version, platform and ``{distribution: version}``; ``id`` is the content hash."""

    python: str
    platform: str
    packages: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        body = json.dumps({"python": self.python, "platform": self.platform, "packages": self.packages}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    def to_row(self) -> dict:
        return {"id": self.id, "python": self.python, "platform": self.platform, "created_at": time.time(), "packages": self.packages}


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def capture() -> EnvironmentSnapshot:
    """Snapshot of this interpreter's environment."""
    from importlib.metadata import distributions

    packages: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            packages.setdefault(_canonical(name), dist.version)
    return EnvironmentSnapshot(
        python=platform.python_version() + f" ({sys.implementation.name})",
        platform=platform.platform(),
        packages=dict(sorted(packages.items())),
    )
