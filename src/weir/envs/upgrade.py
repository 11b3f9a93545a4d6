"""An upgrade to rehearse: exact pins (``--upgrade PKG==VERSION``, or a requirements file of
``PKG==VERSION`` and ``PKG @ URL`` lines with optional ``--find-links DIR`` lines) applied to the
pins of an environment, giving the snapshot of the shadow environment to make.

A pin without a URL is looked for as a wheel in the ``--find-links`` folders and beside the
wheel the current version was installed from (a team's local wheelhouse), else on the index."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from weir.envs.snapshot import WEIR, EnvironmentSnapshot, Origin, canonical
from weir.errors import UsageError

_FIND_LINKS = re.compile(r"^(?:-f|--find-links)(?:\s+|=)(\S+)$")


@dataclass(frozen=True, kw_only=True)
class Upgrade:
    """One pin to apply: ``name`` (canonical) at ``version``, from ``origin`` (the index unless a
    URL was given)."""

    name: str
    version: str
    origin: Origin = dataclasses.field(default_factory=Origin)

    def __post_init__(self) -> None:
        if self.name == WEIR:
            raise UsageError("weir itself cannot be rehearsed: the running weir builds in every environment")


def parse_pin(text: str, *, where: str | None = None) -> Upgrade:
    """``pandas==2.2.3`` or ``units @ file:///w/units-2.0-py3-none-any.whl`` as an Upgrade.
    Raises UsageError for anything that is not one exact version."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        raise UsageError(f"{text!r} is not a pin PKG==VERSION: {exc}", where=where) from None
    name = canonical(req.name)
    if req.url:
        version = _version_in(req.url, name)
        if version is None:
            raise UsageError(f"{text!r}: the version is not in the file name of {req.url} (a wheel's is)", where=where)
        kind = "file" if req.url.startswith("file:") else "url"
        return Upgrade(name=name, version=version, origin=Origin(kind=kind, url=req.url))
    specs = list(req.specifier)
    if len(specs) != 1 or specs[0].operator not in ("==", "===") or "*" in specs[0].version:
        raise UsageError(f"{text!r} is not one exact version: rehearse PKG==VERSION", where=where)
    return Upgrade(name=name, version=specs[0].version)


def read_requirements(path: Path) -> tuple[list[Upgrade], list[Path]]:
    """The pins of requirements file ``path`` and the ``--find-links`` folders it names
    (relative to the file). Raises UsageError naming the line of anything else."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read requirements file {path}: {exc.strerror or exc}") from None
    pins, folders = [], []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        where = f"{path}:{n}"
        found = _FIND_LINKS.match(line)
        if found:
            folder = Path(unquote(urlparse(found.group(1)).path) if found.group(1).startswith("file:") else found.group(1))
            folders.append(folder if folder.is_absolute() else (path.parent / folder).resolve())
        elif line.startswith("-"):
            raise UsageError(f"{line.split()[0]!r} is not taken in a rehearsal: pin PKG==VERSION or PKG @ URL, "
                             f"with --find-links DIR for local wheels", where=where)
        else:
            pins.append(parse_pin(line, where=where))
    if not pins:
        raise UsageError(f"{path} pins nothing to rehearse")
    return pins, folders


def apply(here: EnvironmentSnapshot, pins: list[Upgrade], find_links: Sequence[Path] = ()) -> EnvironmentSnapshot:
    """``here`` with ``pins`` applied: a pin of the version already there changes nothing; any
    other comes from its URL, a wheel found locally, or the index. Raises UsageError for a
    package pinned twice."""
    seen: dict[str, str] = {}
    packages, origins = dict(here.packages), dict(here.origins)
    for pin in pins:
        if pin.name in seen and seen[pin.name] != pin.version:
            raise UsageError(f"{pin.name} is pinned twice: {seen[pin.name]} and {pin.version}")
        seen[pin.name] = pin.version
        if packages.get(pin.name) == pin.version and pin.origin.kind == "index":
            continue
        packages[pin.name] = pin.version
        origins[pin.name] = pin.origin if pin.origin.kind != "index" else _wheel(pin, here.origin(pin.name), find_links)
    return dataclasses.replace(here, packages=dict(sorted(packages.items())), origins=dict(sorted(origins.items())))


def _wheel(pin: Upgrade, current: Origin, find_links: Sequence[Path]) -> Origin:
    """A local wheel of ``pin``: in ``find_links``, else beside the current version's wheel."""
    folders = list(find_links)
    if current.kind == "file" and current.url:
        folders.append(Path(unquote(urlparse(current.url).path)).parent)
    stem = re.sub(r"[-_.]+", "_", pin.name)
    for folder in folders:
        for wheel in sorted(folder.glob("*.whl")) if folder.is_dir() else ():
            name, _, rest = wheel.name.partition("-")
            if re.sub(r"[-_.]+", "_", name).lower() == stem and rest.split("-", 1)[0] == pin.version:
                return Origin(kind="file", url=wheel.resolve().as_uri())
    return Origin()


def _version_in(url: str, name: str) -> str | None:
    """The version in a wheel's or sdist's file name (``units-2.0-py3-none-any.whl`` -> ``2.0``)."""
    file = unquote(urlparse(url).path).rsplit("/", 1)[-1]
    if file.endswith(".whl"):
        parts = file[:-4].split("-")
        return parts[1] if len(parts) >= 5 else None
    for ext in (".tar.gz", ".zip"):
        if file.endswith(ext):
            stem, _, version = file[: -len(ext)].rpartition("-")
            return version if stem and canonical(stem) == name else None
    return None
