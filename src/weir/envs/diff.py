"""What differs between two environments: the interpreter, the platform, weir, and each package
added, removed, upgraded, downgraded (major-version changes flagged) or the same version from
somewhere else."""

from __future__ import annotations

from typing import Any

from weir.envs.snapshot import EnvironmentSnapshot


def package_diff(before: dict[str, str], after: dict[str, str]) -> list[dict]:
    """Packages added, removed, upgraded or downgraded (major version changes flagged)."""
    from packaging.version import InvalidVersion, Version

    out = []
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name), after.get(name)
        if a == b:
            continue
        if a is None or b is None:
            out.append({"package": name, "change": "added" if a is None else "removed", "from": a, "to": b,
                        "major": False})
            continue
        try:
            va, vb = Version(a), Version(b)
            change = "upgraded" if vb > va else "downgraded"
            major = va.major != vb.major
        except InvalidVersion:
            change, major = "changed", False
        out.append({"package": name, "change": change, "from": a, "to": b, "major": major})
    return out


def environment_diff(before: dict, after: dict) -> dict[str, Any]:
    """``{python, platform, weir, packages}`` from stored rows ``before`` to ``after``: each of the
    first three ``{from, to}`` or None when equal; ``packages`` ``[{package, change, from, to,
    major, origin_from, origin_to}]``, ``change`` being ``added``, ``removed``, ``upgraded``,
    ``downgraded``, ``changed`` (versions that do not compare) or ``origin changed``."""
    a, b = EnvironmentSnapshot.from_row(before), EnvironmentSnapshot.from_row(after)
    packages = package_diff(a.packages, b.packages)
    for p in packages:
        p["origin_from"] = a.origin(p["package"]).describe() if p["from"] else None
        p["origin_to"] = b.origin(p["package"]).describe() if p["to"] else None
    # the same version from elsewhere (another wheel, commit or folder) is a change too; a
    # snapshot kept before origins were recorded says nothing about them
    if before.get("origins") is not None and after.get("origins") is not None:
        for name in sorted(set(a.packages) & set(b.packages)):
            if a.packages[name] == b.packages[name] and a.origin(name) != b.origin(name):
                packages.append({"package": name, "change": "origin changed", "from": a.packages[name],
                                 "to": b.packages[name], "major": False, "origin_from": a.origin(name).describe(),
                                 "origin_to": b.origin(name).describe()})
    packages.sort(key=lambda p: p["package"])
    return {
        "python": _changed(a.python, b.python),
        "platform": _changed(a.platform, b.platform),
        "weir": _changed(a.weir, b.weir) if a.weir and b.weir else None,
        "packages": packages,
    }


def _changed(a: str | None, b: str | None) -> dict[str, str | None] | None:
    return None if a == b else {"from": a, "to": b}
