"""Capture the running interpreter's environment exactly: the interpreter, the platform, every
distribution with its version and where it came from (PEP 610 ``direct_url.json``: a local
wheel, a VCS commit, a folder, editable or not; else an index), and weir's own version.

Run as ``python -m weir.envs.snapshot`` it prints the snapshot of that interpreter as JSON: how
a rebuild learns what an environment it materialized really holds."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from typing import Any

ORIGIN_KINDS = ("index", "file", "url", "vcs", "dir")
WEIR = "weir"  # recorded apart: the engine, not a library the project's code builds with


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where one distribution came from. ``kind``: ``index`` (no direct URL recorded), ``file``
    (a local wheel or sdist), ``url`` (a remote archive), ``vcs`` (``url`` at ``commit``) or
    ``dir`` (a local folder, ``editable`` or not). ``site`` is the site folder outside the
    environment's own that it was found in (a layered or shared site), else None."""

    kind: str = "index"
    url: str | None = None
    commit: str | None = None
    editable: bool = False
    site: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ORIGIN_KINDS:
            raise ValueError(f"origin kind {self.kind!r} is not one of {', '.join(ORIGIN_KINDS)}")

    @classmethod
    def from_direct_url(cls, text: str | None, site: str | None = None) -> Origin:
        """The origin a PEP 610 ``direct_url.json`` describes (None or unreadable: an index)."""
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        if not isinstance(data, dict) or not data.get("url"):
            return cls(site=site)
        url = str(data["url"])
        if "vcs_info" in data:
            vcs = data["vcs_info"] or {}
            return cls(kind="vcs", url=f"{vcs.get('vcs', 'git')}+{url}", commit=vcs.get("commit_id"), site=site)
        if "dir_info" in data:
            return cls(kind="dir", url=url, editable=bool((data["dir_info"] or {}).get("editable")), site=site)
        return cls(kind="file" if url.startswith("file:") else "url", url=url, site=site)

    @classmethod
    def from_json(cls, data: dict | None) -> Origin:
        return cls(**{k: v for k, v in (data or {}).items() if k in ("kind", "url", "commit", "editable", "site")})

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "commit": self.commit, "editable": self.editable, "site": self.site}

    def describe(self) -> str:
        """One phrase: ``the index``, ``file:///w/pkg-1.0-py3-none-any.whl``, ``git+https://...@abc``."""
        where = {"index": "the index", "vcs": f"{self.url}@{self.commit}", "dir": f"{self.url} (editable)"
                 if self.editable else str(self.url)}.get(self.kind, str(self.url))
        return f"{where}, through {self.site}" if self.site else where


@dataclass(frozen=True, kw_only=True)
class EnvironmentSnapshot:
    """The Python version, platform and ``{distribution: version}`` of an interpreter, with each
    distribution's ``origins``, the ``interpreter`` path (and the ``base_interpreter`` a venv was
    made from) and ``weir``'s version. ``id`` is the content hash of what makes it rebuildable:
    the Python version, the platform and the pins with their origins (not paths, not weir)."""

    python: str
    platform: str
    packages: dict[str, str] = field(default_factory=dict)
    origins: dict[str, Origin] = field(default_factory=dict)
    interpreter: str | None = None
    base_interpreter: str | None = None
    weir: str | None = None

    @property
    def id(self) -> str:
        pins = {name: [version, self.origin(name).to_json()] for name, version in self.packages.items()}
        body = json.dumps({"python": self.python, "platform": self.platform, "pins": pins}, sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    @property
    def python_version(self) -> str:
        """``3.11.7`` of ``3.11.7 (cpython)``."""
        return self.python.split(" ", 1)[0]

    def origin(self, name: str) -> Origin:
        return self.origins.get(name) or Origin()

    def to_row(self) -> dict[str, Any]:
        """The row of the ``environments`` table."""
        return {"id": self.id, "python": self.python, "platform": self.platform, "created_at": time.time(),
                "packages": self.packages, "origins": {n: o.to_json() for n, o in self.origins.items()},
                "interpreter": self.interpreter, "base_interpreter": self.base_interpreter, "weir_version": self.weir}

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.to_row().items() if k != "created_at"}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EnvironmentSnapshot:
        """A snapshot from a stored row or ``to_json()``; rows stored before origins were kept
        read as every package from the index (their stored id stays the row's)."""
        return cls(python=row["python"], platform=row["platform"], packages=dict(row.get("packages") or {}),
                   origins={n: Origin.from_json(o) for n, o in (row.get("origins") or {}).items()},
                   interpreter=row.get("interpreter"), base_interpreter=row.get("base_interpreter"),
                   weir=row.get("weir_version"))


def canonical(name: str) -> str:
    """A distribution name as PEP 503 normalizes it (``Foo_Bar.baz`` -> ``foo-bar-baz``)."""
    return name.lower().replace("_", "-").replace(".", "-")


def _own_sites() -> set[str]:
    """The environment's own site folders: what a venv made from the same interpreter would hold."""
    import site
    import sysconfig

    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    if site.ENABLE_USER_SITE and site.USER_SITE:
        paths.add(site.USER_SITE)
    return {_resolved(p) for p in paths}


def _resolved(path: str) -> str:
    from pathlib import Path

    try:
        return str(Path(path).resolve())
    except OSError:
        return path


def capture() -> EnvironmentSnapshot:
    """Snapshot of this interpreter's environment. A distribution found twice (a venv's own and
    a shared site's) is the one imports find: the first on ``sys.path``."""
    from importlib.metadata import distributions

    import weir

    own = _own_sites()
    packages: dict[str, str] = {}
    origins: dict[str, Origin] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if not name or canonical(name) in packages or canonical(name) == WEIR:
            continue
        name = canonical(name)
        location = _resolved(str(dist.locate_file("")))
        packages[name] = dist.version
        origins[name] = Origin.from_direct_url(dist.read_text("direct_url.json"),
                                               site=None if location in own else location)
    base = getattr(sys, "_base_executable", None) or sys.executable
    return EnvironmentSnapshot(
        python=platform.python_version() + f" ({sys.implementation.name})",
        platform=platform.platform(),
        packages=dict(sorted(packages.items())),
        origins=dict(sorted(origins.items())),
        interpreter=sys.executable,
        base_interpreter=base if base != sys.executable else None,
        weir=weir.__version__,
    )


if __name__ == "__main__":
    json.dump(capture().to_json(), sys.stdout)
