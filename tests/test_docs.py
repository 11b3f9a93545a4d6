"""Every CLI command and weir.toml key users can type is documented in the README."""

from __future__ import annotations

from pathlib import Path

import typer.main

from weir.cli.main import app
from weir.project import config

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _commands(group, prefix=""):
    click_group = typer.main.get_command(group)
    for name, cmd in click_group.commands.items():
        full = f"{prefix}{name}"
        yield full, cmd
        if hasattr(cmd, "commands"):
            for sub, subcmd in cmd.commands.items():
                yield f"{full} {sub}", subcmd


def test_every_command_is_in_the_readme():
    missing = [name for name, _ in _commands(app) if f"weir {name}" not in README]
    assert missing == []


def test_every_option_is_in_the_readme():
    missing = []
    for name, cmd in _commands(app):
        for param in cmd.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in README:
                    missing.append(f"weir {name} {opt}")
    assert missing == []


def test_every_config_key_is_in_the_readme():
    keys = config._PROJECT_KEYS | config._DEFAULT_KEYS
    assert sorted(k for k in keys if f"`{k}`" not in README) == []
