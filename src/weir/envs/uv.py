"""Materialize a recorded environment with uv: a venv per environment id in a cache under the
workspace (``<workspace>/envs/<id>/``), made once and reused.

- the venv is made with ``uv venv`` from the same interpreter (its recorded path, else its
  version, which uv finds);
- a distribution recorded as found in a shared site folder outside its environment (a layered
  venv's ``.pth``) is reused from there while that folder holds the recorded version;
- every other one is installed with ``uv pip install --no-deps`` from where it came from: the
  index (``name==version``), the local wheel or folder, the VCS commit; offline from uv's cache
  first, then from the index. uv hard-links from its cache;
- weir itself is the running one, linked in (``weir-link/weir`` and a ``.pth``): the run's
  process speaks to its workers in its own protocol.

The venv is made in a temporary folder and renamed into place once complete, so an
interrupted or failed materialization leaves nothing half-made. A version that cannot be
obtained raises EnvironmentUnavailable naming the package."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from weir.envs.lock import requirement
from weir.envs.snapshot import EnvironmentSnapshot, Origin, canonical
from weir.errors import EnvironmentUnavailable

READY = "weir-environment.json"  # written last: a venv without it is not complete
WEIR_LINK = "weir-link"


@dataclass(frozen=True, kw_only=True)
class MaterializedEnvironment:
    """A venv made for environment ``id``: its ``python``, whether it was ``reused`` from the
    cache, the ``seconds`` it took, the folders it reuses (``layers``) and what uv installed."""

    id: str
    path: Path
    python: Path
    reused: bool
    seconds: float
    layers: tuple[str, ...] = ()
    installed: int = 0

    def to_json(self) -> dict:
        return {"id": self.id, "path": str(self.path), "python": str(self.python), "reused": self.reused,
                "seconds": round(self.seconds, 3), "layers": list(self.layers), "installed": self.installed}


def uv_binary() -> str:
    """The uv executable: the ``uv`` package's, else one on PATH. Raises EnvironmentUnavailable."""
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise EnvironmentUnavailable("uv is not installed: 'pip install uv' (weir materializes environments with it)")


def materialize(snapshot: EnvironmentSnapshot, env_id: str, cache: Path) -> MaterializedEnvironment:
    """The venv of ``snapshot`` (stored as ``env_id``) under ``cache``, made if missing."""
    t0 = time.perf_counter()
    dest = cache / env_id
    ready = _ready(dest)
    if ready is not None:
        link_weir(dest, ready["site"])
        return MaterializedEnvironment(id=env_id, path=dest, python=_python(dest), reused=True,
                                       seconds=time.perf_counter() - t0, layers=tuple(ready.get("layers", ())),
                                       installed=ready.get("installed", 0))
    _check_local_origins(snapshot)
    cache.mkdir(parents=True, exist_ok=True)
    work = cache / f".{env_id}-{secrets.token_hex(4)}"
    try:
        _run_uv(["venv", "--quiet", "--no-project", "--relocatable", "--python", _interpreter(snapshot), str(work)],
                what=f"Python {snapshot.python_version}")
        site = _site_of(_python(work))
        layers, reused = _layers(snapshot)
        if layers:  # read after the venv's own site-packages, so what it installs comes first
            (work / site / "_weir_layers.pth").write_text("".join(f"{p}\n" for p in layers))
        wanted = {n: v for n, v in snapshot.packages.items() if n not in reused}
        _install(snapshot, wanted, _python(work))
        (work / READY).write_text(json.dumps({"id": env_id, "made_at": time.time(), "site": site,
                                              "layers": layers, "installed": len(wanted)}))
        try:
            work.rename(dest)
        except OSError:  # made meanwhile by another rebuild (or a leftover without its marker)
            if _ready(dest) is None:
                shutil.rmtree(dest, ignore_errors=True)
                work.rename(dest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    link_weir(dest, site)
    return MaterializedEnvironment(id=env_id, path=dest, python=_python(dest), reused=False,
                                   seconds=time.perf_counter() - t0, layers=tuple(layers), installed=len(wanted))


def link_weir(venv: Path, site: str) -> None:
    """Make the running weir importable in ``venv``: ``weir-link/weir`` points at its package
    folder (replaced atomically when weir moved) and a ``.pth`` puts ``weir-link`` on the path."""
    import weir

    package = Path(weir.__file__).resolve().parent
    folder = venv / WEIR_LINK
    folder.mkdir(exist_ok=True)
    link = folder / "weir"
    if not (link.is_symlink() and Path(os.readlink(link)) == package):
        spare = folder / f".weir-{secrets.token_hex(4)}"
        spare.symlink_to(package, target_is_directory=True)
        os.replace(spare, link)
    pth = venv / site / "_weir.pth"
    if not pth.is_file() or pth.read_text().strip() != str(folder):
        spare_pth = pth.with_name(f".weir-{secrets.token_hex(4)}.pth.tmp")
        spare_pth.write_text(f"{folder}\n")
        os.replace(spare_pth, pth)  # a worker starting meanwhile reads the old line or the new


def _ready(venv: Path) -> dict | None:
    try:
        return json.loads((venv / READY).read_text()) if _python(venv).exists() else None
    except (OSError, ValueError):
        return None


def _python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _interpreter(snapshot: EnvironmentSnapshot) -> str:
    """The interpreter to make the venv from: the recorded one if it is still there, else the
    recorded version (uv finds an interpreter of it)."""
    for path in (snapshot.base_interpreter, snapshot.interpreter):
        if path and Path(path).is_file() and os.access(path, os.X_OK):
            return path
    return snapshot.python_version


def _site_of(python: Path) -> str:
    """The venv's site-packages, relative to the venv."""
    code = "import sys, sysconfig; print(sysconfig.get_paths()['purelib'][len(sys.prefix) + 1:])"
    out = subprocess.run([str(python), "-I", "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _path_of(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _check_local_origins(snapshot: EnvironmentSnapshot) -> None:
    """A package installed from a local wheel or folder that is gone cannot be had again."""
    for name, version in snapshot.packages.items():
        origin = snapshot.origin(name)
        if origin.site or origin.kind not in ("file", "dir") or not origin.url:
            continue
        if not _path_of(origin.url).exists():
            raise EnvironmentUnavailable(f"{name} {version} cannot be obtained: it was installed from "
                                         f"{_path_of(origin.url)}, which is gone")


def _layers(snapshot: EnvironmentSnapshot) -> tuple[list[str], set[str]]:
    """The shared site folders to reuse, and the packages they still hold at the recorded version."""
    from importlib.metadata import distributions

    by_site: dict[str, list[str]] = {}
    for name in snapshot.packages:
        site = snapshot.origin(name).site
        if site:
            by_site.setdefault(site, []).append(name)
    layers, reused = [], set()
    for site, names in sorted(by_site.items()):
        if not Path(site).is_dir():
            continue
        there = {canonical(d.metadata["Name"] or ""): d.version for d in distributions(path=[site])}
        held = {n for n in names if there.get(n) == snapshot.packages[n]}
        if held:
            layers.append(site)
            reused |= held
    return layers, reused


def _install(snapshot: EnvironmentSnapshot, wanted: dict[str, str], python: Path) -> None:
    if not wanted:
        return
    lines = [requirement(n, v, Origin(**{**snapshot.origin(n).to_json(), "site": None})) for n, v in wanted.items()]
    folders = sorted({str(_path_of(o.url).parent) for n in wanted if (o := snapshot.origin(n)).kind == "file" and o.url})
    requirements = python.parent.parent / "weir-requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    args = ["pip", "install", "--quiet", "--no-deps", "--python", str(python), "-r", str(requirements)]
    for folder in folders:
        args += ["--find-links", folder]
    offline = _uv_result([*args, "--offline"])
    if offline.returncode == 0:
        return
    online = _uv_result(args)
    if online.returncode != 0:
        raise EnvironmentUnavailable(_unobtainable(online.stderr or offline.stderr, snapshot, wanted))


def _unobtainable(stderr: str, snapshot: EnvironmentSnapshot, wanted: dict[str, str]) -> str:
    """One line naming the package uv could not obtain."""
    lines = [_plain(ln) for ln in stderr.splitlines()]
    lines = [ln for ln in lines if ln and not ln.lower().startswith(("using python", "hint:"))]
    for name, version in wanted.items():
        spelled = re.compile(r"(?<![\w-])" + "[-_.]".join(map(re.escape, name.split("-"))) + r"(?![\w-])", re.IGNORECASE)
        said = next((ln for ln in lines if spelled.search(ln)), None)
        if said is not None:
            return (f"{name} {version} cannot be obtained from {snapshot.origin(name).describe()}: "
                    f"{said[:300]}")
    return "the environment cannot be materialized: " + (lines[-1][:300] if lines else "uv failed")


def _plain(line: str) -> str:
    """uv's sentence without its decoration: ``cause: Because x was not found in the package
    registry and you require x==1, we can conclude ...`` -> ``x was not found in the package registry``."""
    line = re.sub(r"^[\s×╰─▶│|]*(?:(?:error|cause|caused by):\s*)?", "", line, flags=re.IGNORECASE).strip()
    line = re.sub(r"^Because\s+", "", line)
    return re.split(r",? and you require |, we can conclude", line)[0].strip()


def _uv_result(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([uv_binary(), *args], capture_output=True, text=True, env=_uv_environment(),
                          check=False)


def _run_uv(args: list[str], *, what: str) -> None:
    done = _uv_result(args)
    if done.returncode != 0:
        said = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
        raise EnvironmentUnavailable(f"{what} cannot be obtained: {(said[-1] if said else 'uv failed')[:300]}")


def _uv_environment() -> dict[str, str]:
    """uv's environment: this one's, without the venv and path of the process running weir."""
    return {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
