"""The identity of an asset: ``AssetKey(project, name)``, written ``project.name``.

A bare name means an asset of the project it is read in; ``sales.orders`` names the asset
``orders`` of the project ``sales``."""

from __future__ import annotations

from dataclasses import dataclass

from weir.errors import ConfigError


@dataclass(frozen=True, order=True)
class AssetKey:
    """One asset (or source) of one project. Ordered by project, then name."""

    project: str
    name: str

    def __post_init__(self) -> None:
        from weir.model.definitions import NAME_PATTERN

        for part in (self.project, self.name):
            if not isinstance(part, str) or not NAME_PATTERN.match(part):
                raise ConfigError(f"asset key {self.project!r}.{self.name!r}: project and name must be letters, "
                                  f"digits and '_', not starting with a digit")

    @classmethod
    def parse(cls, text: str, default_project: str) -> AssetKey:
        """``name`` (an asset of ``default_project``) or ``project.name``. ConfigError naming
        ``text`` for anything else: an empty part, more than one dot, a part that is not a name."""
        from weir.model.definitions import NAME_PATTERN

        parts = text.split(".") if isinstance(text, str) else []
        if not 1 <= len(parts) <= 2 or not all(NAME_PATTERN.match(p) for p in parts):
            raise ConfigError(f"asset key {text!r} must be a name or project.name (letters, digits and '_', "
                              f"not starting with a digit)")
        return cls(parts[0], parts[1]) if len(parts) == 2 else cls(default_project, parts[0])

    def __str__(self) -> str:
        return f"{self.project}.{self.name}"

    def local(self, project: str) -> str:
        """The bare name when the key is ``project``'s, else the qualified form."""
        return self.name if self.project == project else str(self)
