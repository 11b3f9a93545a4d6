"""Shared fixtures: real projects on disk, real workspaces (SQLite or PostgreSQL), real Delta tables."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

POSTGRES_URL = os.environ.get("WEIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # a pytest-xdist worker is started with COLUMNS=80 and LINES=24, as if it printed to a small
    # terminal: weir would fold its piped output at 80 columns there and nowhere else
    os.environ.pop("COLUMNS", None)
    os.environ.pop("LINES", None)


def write_project(root: Path, files: dict[str, str], name: str = "demo") -> Path:
    """Write ``files`` (relative path -> text, dedented) under ``root``; adds a weir.toml if missing."""
    root.mkdir(parents=True, exist_ok=True)
    files = dict(files)
    files.setdefault("weir.toml", f'[project]\nname = "{name}"\n')
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def land_csv(root: Path, rel: str, rows: list[dict]) -> Path:
    """Write a CSV landing file from a list of dicts."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = list(rows[0]) if rows else []
    lines = [",".join(cols)] + [",".join("" if r[c] is None else str(r[c]) for c in cols) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def restored(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """A folder built once per test process by ``build(folder)`` and given back to each test as
    it was right after the build: the first call builds it and keeps a copy; every later call
    wipes the folder and copies that back. The folder keeps one absolute path, so what the build
    stored (a project's location, a workspace's tables) stays valid. For fixtures whose setup is
    the slow part (weeks of deliveries) and that every test then changes."""
    root = tmp_path_factory.getbasetemp() / f"restored-{name}"
    live, kept = root / "live", root / "kept"
    if not kept.is_dir():
        shutil.rmtree(root, ignore_errors=True)
        live.mkdir(parents=True)
        build(live)
        shutil.copytree(live, kept, symlinks=True)
    else:
        shutil.rmtree(live)
        shutil.copytree(kept, live, symlinks=True)
    return live


@pytest.fixture
def make_project(tmp_path):
    """``make_project({"assets.py": "..."})`` -> project folder in tmp_path."""

    def make(files: dict[str, str], name: str = "demo") -> Path:
        return write_project(tmp_path / f"project-{name}", files, name)

    return make


def _postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001 - unreachable for any reason means no PostgreSQL
        return False


@pytest.fixture
def postgres_url(monkeypatch):
    """A fresh PostgreSQL schema for one test; WEIR_DATABASE_URL points at it. Skips outside CI if absent."""
    if not _postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI but {POSTGRES_URL} is unreachable")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} (set WEIR_TEST_POSTGRES_URL)")
    import psycopg

    schema = f"weir_test_{uuid.uuid4().hex[:10]}"
    plain = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in plain else "?"
    url = f"{plain}{sep}options=-csearch_path%3D{schema}"
    monkeypatch.setenv("WEIR_DATABASE_URL", url)
    yield url
    with psycopg.connect(plain, autocommit=True) as c:
        c.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, monkeypatch):
    """Runs a test against both metadata store backends."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    monkeypatch.delenv("WEIR_DATABASE_URL", raising=False)
    return "sqlite"


@pytest.fixture
def workspace_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("WEIR_HOME", raising=False)
    return tmp_path / "ws"


class _Captured:
    """What a CLI invocation printed and how it exited (the fields of a CompletedProcess)."""

    def __init__(self, args: list[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args, self.returncode, self.stdout, self.stderr = args, returncode, stdout, stderr


def _in_process(argv: list[str], cwd: Path, env: dict[str, str]) -> _Captured:
    """Run ``weir.cli.main.main()`` in this process with ``argv``, ``cwd`` and ``env``: the
    imports are paid once per test session instead of once per command."""
    import contextlib
    import io

    from weir.cli.main import main

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)  # .buffer, as a real stdout has
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)
    saved_env, saved_cwd, saved_argv = dict(os.environ), os.getcwd(), sys.argv
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.argv = ["weir", *argv]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                if not isinstance(exc.code, int) and exc.code is not None:
                    err.write(str(exc.code))
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return _Captured(argv, code, out.buffer.getvalue().decode(), err.buffer.getvalue().decode())


def weir_cli(ws: Path, project: Path, *args: str, expect: int | None = 0, process: bool = False):
    """Run ``weir --workspace ws --project project ARGS`` and check its exit code. In this
    process by default; ``process=True`` starts a real process (for exit codes of the
    interpreter itself, signals and start-up)."""
    env = {k: v for k, v in os.environ.items() if k not in ("WEIR_HOME", "WEIR_DATABASE_URL")}
    env["NO_COLOR"] = "1"
    argv = ["--workspace", str(ws), "--project", str(project), *args]
    if process:
        proc = subprocess.run(
            [sys.executable, "-m", "weir.cli.main", *argv],
            capture_output=True, text=True, env=env, cwd=project.parent, timeout=120, check=False,
        )
    else:
        proc = _in_process(argv, project.parent, env)
    if expect is not None:
        assert proc.returncode == expect, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc
