"""Every CLI command, option and weir.toml key users can type is documented in the README, and
nothing is documented that does not exist: commands and options are matched exactly, each
command against its own row of the CLI tour."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from weir.cli.main import app
from weir.project import config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
CODE = re.compile(r"`(weir [^`]*)`")
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z-]*")


def _section(title: str) -> str:
    return README.split(f"\n{title}\n", 1)[1].split("\n#", 1)[0]


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
    for line in _section("## CLI tour").splitlines():
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
    line = next(ln for ln in _section("## CLI tour").splitlines() if ln.startswith("Global options"))
    assert set(OPTION.findall(line)) == _options(click_app)


def test_every_json_output_is_documented_and_nothing_else():
    with_json = {path for path, cmd in COMMANDS.items() if "--json" in _options(cmd)}
    documented = {_path(code) for code in CODE.findall(_section("### JSON output (stable keys)")) if "--json" in code}
    assert documented == with_json


def test_every_config_key_is_in_the_readme():
    keys = config._PROJECT_KEYS | config._DEFAULT_KEYS
    assert sorted(k for k in keys if f"`{k}`" not in README) == []
