"""The documentation (docs/, built by ``make docs``) says what exists, and nothing that does not:
every CLI command and option in the CLI tour (each command against its own row), every command
with ``--json`` in the JSON output, every weir.toml and instance.toml key, every module under
src/weir/ on the Layout page, every event kind on the Events page; the site builds with
``mkdocs build --strict`` (offline), and the README links every page."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from weir import instance
from weir.cli.main import app
from weir.events import EventKind
from weir.project import alerts, config

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SRC = ROOT / "src" / "weir"
CODE = re.compile(r"`(weir [^`]*)`")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _page(name: str) -> str:
    return (DOCS / name).read_text()


def _section(text: str, title: str) -> str:
    """The text under heading ``title`` (``## weir.toml``), up to the next heading."""
    return ("\n" + text).split(f"\n{title}\n", 1)[1].split("\n#", 1)[0]


CLI = _page("cli.md")


def _commands(group=None, prefix: str = "") -> dict[str, object]:
    """Every command path (``runs show``) with its click command; groups that only hold
    subcommands (``db``) are left out, since one cannot run them."""
    click_group = typer.main.get_command(app) if group is None else group
    out = {}
    for name, cmd in click_group.commands.items():
        path = f"{prefix}{name}"
        subcommands = getattr(cmd, "commands", None)
        if not subcommands or getattr(cmd, "invoke_without_command", False) and _options(cmd):
            out[path] = cmd
        if subcommands:
            out |= _commands(cmd, f"{path} ")
    return out


def _options(cmd) -> set[str]:
    return {o for p in cmd.params for o in getattr(p, "opts", []) if o.startswith("--")} - {"--help"}


COMMANDS = _commands()


def _path(synopsis: str) -> str | None:
    """The longest command path a synopsis (``weir runs show ID [--json]``) starts with."""
    words = synopsis.split()[1:]
    for n in range(len(words), 0, -1):
        if " ".join(words[:n]) in COMMANDS:
            return " ".join(words[:n])
    return None


def _tour() -> dict[str, list[str]]:
    """Command path -> the synopses of its rows in the CLI tour."""
    rows: dict[str, list[str]] = {}
    for line in _section(CLI, "# CLI tour").splitlines():
        match = re.match(r"\| `(weir [^`]*)` \|", line)
        if match:
            rows.setdefault(_path(match.group(1)) or match.group(1), []).append(match.group(1))
    return rows


def test_the_tour_has_one_row_per_command_and_no_other():
    tour = _tour()
    assert sorted(tour) == sorted(COMMANDS)
    assert {path: len(rows) for path, rows in tour.items() if len(rows) != 1} == {}


def test_each_tour_row_names_exactly_its_commands_options():
    tour = _tour()
    wrong = {}
    for path, cmd in COMMANDS.items():
        documented = set(OPTION.findall(" ".join(tour.get(path, []))))
        if documented != _options(cmd):
            wrong[path] = {"undocumented": sorted(_options(cmd) - documented),
                           "not an option": sorted(documented - _options(cmd))}
    assert wrong == {}


def test_global_options_are_documented():
    click_app = typer.main.get_command(app)
    line = next(ln for ln in _section(CLI, "# CLI tour").splitlines() if ln.startswith("Global options"))
    assert set(OPTION.findall(line)) == _options(click_app)


def test_every_json_output_is_documented_and_nothing_else():
    with_json = {path for path, cmd in COMMANDS.items() if "--json" in _options(cmd)}
    documented = {_path(code) for code in CODE.findall(_section(CLI, "## JSON output (stable keys)")) if "--json" in code}
    assert documented == with_json


def test_every_weir_toml_key_is_on_the_weir_toml_page():
    section = _section(_page("projects.md"), "## weir.toml")
    keys = config._PROJECT_KEYS | config._DEFAULT_KEYS | config._RUN_KEYS
    assert sorted(k for k in keys if f"`{k}`" not in section) == []
    assert sorted(s for s in config._TOP_KEYS if f"[{s}]" not in section) == []


def test_every_alerts_key_is_on_the_alerts_page():
    section = _section(_page("incidents.md"), "## Alerts")
    keys = (alerts._ALERTS_KEYS | set().union(*alerts._CHANNEL_KEYS.values())) - {"routes"}
    assert sorted(k for k in keys if f"`{k}`" not in section) == []


def test_every_instance_key_is_documented():
    page = _page("where-things-live.md")
    assert sorted(f"[{s}] {k}" for s, ks in instance.KEYS.items() for k in ks if f"`[{s}] {k}`" not in page) == []
    assert all(f"`{env}`" in page for env in (instance.DATABASE_ENV, instance.DATA_ROOT_ENV, instance.WORKSPACE_ENV))


def _docstring_only(path: Path) -> bool:
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in ast.parse(path.read_text()).body)


def _modules() -> set[str]:
    """Every module of weir, as a path under src/weir/: the bundled example project, the
    migration scripts and packages' ``__init__.py`` that hold only a docstring left out."""
    out = set()
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "examples" or rel.parts[:3] == ("store", "migrations", "versions"):
            continue
        if path.name == "__init__.py" and len(rel.parts) > 1 and _docstring_only(path):
            continue
        out.add(rel.as_posix())
    return out


def test_the_layout_page_names_every_module_and_no_other():
    named = {m for m in re.findall(r"`([\w/]+\.py)`", _page("layout.md")) if not m.startswith(("tests/", "bench/"))}
    modules = _modules()
    assert {"missing": sorted(modules - named), "no such module": sorted(named - modules)} == {
        "missing": [], "no such module": []}


def test_the_events_page_lists_every_event_kind_and_no_other():
    table = _section(_page("events.md"), "# Events")
    rows = [re.match(r"\| ((?:`[a-z_]+`(?:, )?)+) \|", ln) for ln in table.splitlines()]
    listed = [k for row in rows if row for k in re.findall(r"`([a-z_]+)`", row.group(1))]
    assert sorted(listed) == sorted(k.value for k in EventKind)
    assert len(listed) == len(set(listed))


def test_the_json_output_of_weir_events_names_every_kind():
    line = next(ln for ln in CLI.splitlines() if ln.startswith("- `weir events --json`"))
    kinds = line.split("`kind` is one of ", 1)[1].split(";", 1)[0]
    assert sorted(re.findall(r"`([a-z_]+)`", kinds)) == sorted(k.value for k in EventKind)


def test_the_readme_links_every_page_and_each_link_works():
    readme = (ROOT / "README.md").read_text()
    linked = {m.split("#", 1)[0] for m in re.findall(r"\]\((docs/[^)\s]+)\)", readme)}
    pages = {p.relative_to(ROOT).as_posix() for p in DOCS.glob("*.md")}
    assert sorted(linked - pages) == []
    assert sorted(pages - linked) == []


def test_the_site_builds_strictly_and_offline(tmp_path):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        if os.environ.get("CI"):
            pytest.fail("mkdocs-material is required in CI (the dev extra brings it)")
        pytest.skip("mkdocs-material is not installed ('make install' brings it)")
    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
                           "--site-dir", str(site)], check=False, capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stderr
    assert {p.stem for p in DOCS.glob("*.md")} <= {p.stem for p in site.glob("*.html")}
    fetched = {m for page in site.glob("*.html")
               for m in re.findall(r"<(?:script|link|img)[^>]*?(?:src|href)=\"(https?://[^\"]+)\"", page.read_text())}
    assert fetched == set()
