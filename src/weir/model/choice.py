"""Choices from a closed vocabulary (run states, event kinds, ...), checked where they enter."""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from weir.errors import UsageError

E = TypeVar("E", bound=StrEnum)


def parse_choice(kind: type[E], value: str, what: str) -> E:
    """``value`` as a member of ``kind``. Raises UsageError naming every valid choice."""
    try:
        return kind(value)
    except ValueError:
        raise UsageError(f"{value!r} is not {what} (choose: {', '.join(kind)})") from None
