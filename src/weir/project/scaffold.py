"""``weir init``: a new project folder, empty or from a bundled example."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from weir.errors import ConfigError

EXAMPLES = ("flights",)
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"

_TEMPLATE_TOML = """[project]
name = "{name}"
modules = ["assets"]

[defaults]
owners = []
"""

_TEMPLATE_ASSETS = '''"""Assets of {name}. Run 'weir run' to build them, 'weir status' to see them."""

import pandas as pd

import weir

days = weir.daily(start="2024-01-01", end="2024-12-31")

# raw = weir.source("raw", path="landing/{{partition}}.csv", partitions=days)


@weir.asset(partitions=days)
def calendar(context) -> pd.DataFrame:
    """One row per day: an asset needs no upstream to start with."""
    return pd.DataFrame({{"day": [context.partition_key]}})
'''


def create_project(directory: str | Path, *, example: str | None = None, days: int = 60) -> dict:
    """Create a project in ``directory`` (which must be empty or absent). Returns what was made."""
    target = Path(directory).resolve()
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} is not empty; choose a new folder")
    if example is None:
        name = "".join(c if c.isalnum() else "_" for c in target.name).strip("_") or "project"
        if name[0].isdigit():
            name = f"p_{name}"
        target.mkdir(parents=True, exist_ok=True)
        (target / "weir.toml").write_text(_TEMPLATE_TOML.format(name=name))
        (target / "assets.py").write_text(_TEMPLATE_ASSETS.format(name=name))
        return {"name": name, "path": str(target), "notes": ["next: cd into it and run 'weir run --plan'"]}
    if example not in EXAMPLES:
        raise ConfigError(f"unknown example {example!r} (available: {', '.join(EXAMPLES)})")
    if days < 0 or days > 365:
        raise ConfigError(f"--days {days} must be between 0 and 365")
    shutil.copytree(
        EXAMPLES_DIR / example, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__init__.py", "__pycache__")
    )
    notes = []
    if days:
        spec = importlib.util.spec_from_file_location("weir_example_land", target / "land.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        written = module.land(target, days=days)
        notes.append(f"landed {len(written)} days of flights and weather: {written[0]} .. {written[-1]}")
    notes.append("next: 'weir run' builds them; 'python land.py --days 7' lands a week more")
    return {"name": example, "path": str(target), "notes": notes}
