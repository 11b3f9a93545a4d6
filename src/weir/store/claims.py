"""Which folder holds a project name in a workspace: the rule the metadata store applies when a
folder claims a name, and that read-only commands apply to warn, without importing SQLAlchemy."""

from __future__ import annotations

from pathlib import Path


def still_declares(root: Path, name: str) -> bool:
    """Whether the folder ``root`` still declares project ``name`` in its weir.toml."""
    import tomllib

    try:
        data = tomllib.loads((root / "weir.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return False
    return isinstance(data.get("project"), dict) and data["project"].get("name") == name


def holder_elsewhere(registered: str | None, name: str, root: str) -> str | None:
    """The folder other than ``root`` that holds project ``name`` (``registered`` is the folder
    the workspace has for it), or None when the name is ``root``'s, free, or given up by a
    folder that no longer declares it. Reads only."""
    if registered is None or registered == root or not still_declares(Path(registered), name):
        return None
    return registered
