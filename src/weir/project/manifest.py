"""A cached manifest of a loaded project, so commands that only read (status, lineage, runs,
history, checks, metrics, events) answer without importing the project's modules (and what
they import: pandas, scikit-learn...).

The manifest is the validated ``Project`` with each asset function replaced by a stand-in that
names it; it is keyed by the project files' names, sizes and modification times, weir's
version and the interpreter, so any edit makes the next command load the project for real.
Building, checking and ingesting always load the real modules."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from weir.model.definitions import Asset
from weir.model.steps import Call

if TYPE_CHECKING:
    from weir.project.graph import Project

MANIFEST_VERSION = 4  # 2: assets carry a key; 3: projects have scenarios; 4: inputs carry their AssetKey
_WATCHED = (".py", ".sql", ".toml", ".yml", ".yaml")
_SKIPPED_DIRS = {"__pycache__", "node_modules", "venv", "site-packages"}


class UnloadedFunction:
    """Stands for an asset function (or a scenario's function step) in a manifest: reading
    commands never call it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError(f"asset function {self.name!r} was not loaded (the project was read from its manifest)")

    def __repr__(self) -> str:
        return f"<unloaded {self.name}>"


def fingerprint(root: Path, *, skip: Path | None = None) -> str:
    """A hash of every file that can change what the project defines."""
    version = getattr(sys.modules.get("weir"), "__version__", "")  # the package is imported with this module
    digest = hashlib.sha256(f"{MANIFEST_VERSION}|{version}|{sys.version}|{root}".encode())
    skip_s = str(skip) if skip is not None else None
    stack = [str(root)]
    entries = []
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name.startswith(".") or entry.name in _SKIPPED_DIRS or entry.path == skip_s:
                            continue
                        stack.append(entry.path)
                    elif entry.name.endswith(_WATCHED):
                        st = entry.stat()
                        entries.append(f"{entry.path}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            continue
    for line in sorted(entries):
        digest.update(line.encode())
    return digest.hexdigest()


def _path(cache_dir: Path, root: Path) -> Path:
    return cache_dir / f"manifest-{hashlib.sha1(str(root).encode()).hexdigest()[:16]}.pickle"


def read_manifest(root: Path, cache_dir: Path) -> Project | None:
    """The cached Project if the files are unchanged since it was written, else None."""
    path = _path(cache_dir, root)
    try:
        with path.open("rb") as f:
            key, project = pickle.load(f)
    except Exception:  # noqa: BLE001 - missing, stale or unreadable: load the project for real
        return None
    return project if key == fingerprint(root, skip=cache_dir.parent) else None


def write_manifest(project: Project, cache_dir: Path) -> None:
    """Cache ``project`` (as just loaded from its files). Never fails the command."""
    root = Path(project.root)
    try:
        stand_ins = {
            n: dataclasses.replace(a, fn=UnloadedFunction(n)) if a.fn is not None else a for n, a in project.assets.items()
        }
        scenarios = {n: dataclasses.replace(sc, steps=tuple(
            dataclasses.replace(st, function=UnloadedFunction(st.name)) if isinstance(st, Call) else st for st in sc.steps))
            for n, sc in project.scenarios.items()}
        slim = dataclasses.replace(project, assets=stand_ins, scenarios=scenarios)
        data = pickle.dumps((fingerprint(root, skip=cache_dir.parent), slim), protocol=pickle.HIGHEST_PROTOCOL)
        cache_dir.mkdir(parents=True, exist_ok=True)
        path = _path(cache_dir, root)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - an object that does not pickle: read commands load the project
        return


def load_for_reading(root: Path, cache_dir: Path) -> Project:
    """The project for a command that only reads: from the manifest when it is fresh, else
    loaded from its files (and cached)."""
    from weir.project.loader import load_project

    project = read_manifest(root, cache_dir)
    if project is not None:
        return project
    project = load_project(root)
    write_manifest(project, cache_dir)
    return project


def is_stand_in(asset: Asset) -> bool:
    return isinstance(asset.fn, UnloadedFunction)
