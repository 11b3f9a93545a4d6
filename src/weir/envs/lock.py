"""``weir.lock``: the exact pins of an environment, as a requirements file uv (or pip) installs
with ``--no-deps``: each distribution from where it came from."""

from __future__ import annotations

from weir.envs.snapshot import EnvironmentSnapshot, Origin


def requirement(name: str, version: str, origin: Origin) -> str:
    """The line of a requirements file that installs ``name`` ``version`` from ``origin``."""
    from urllib.parse import unquote, urlparse

    if origin.kind == "index" or not origin.url:
        return f"{name}=={version}"
    if origin.kind == "dir" and origin.editable:
        return f"-e {unquote(urlparse(origin.url).path)}"
    if origin.kind == "vcs" and origin.commit:
        return f"{name} @ {origin.url}@{origin.commit}"
    return f"{name} @ {origin.url}"


def lock_text(snapshot: EnvironmentSnapshot) -> str:
    """The lock file of ``snapshot``: a header naming it, then one pin per line."""
    header = [
        f"# weir.lock: environment {snapshot.id}, Python {snapshot.python} on {snapshot.platform}",
        f"# written by weir {snapshot.weir or '?'} (weir itself is not pinned: install the weir you deploy with)",
        "# install with: uv pip install --no-deps -r weir.lock",
    ]
    pins = [requirement(n, v, snapshot.origin(n)) for n, v in sorted(snapshot.packages.items())]
    return "\n".join(header + pins) + "\n"
