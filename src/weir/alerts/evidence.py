"""The evidence of a cause as the data team reads it in a message: the whole of it, cut only past
``LIMIT`` lines with a pointer to where the rest is kept.

- **code**: the diff of the asset's definition as hunks, the changed lines with a little context
  (``CONTEXT`` lines on each side), without the file headers, so the changed line comes first
  however long the asset is;
- **library**: every package that changed, with its versions;
- **configuration**: every setting line removed or added;
- anything else: the cause's own evidence lines.

Read from the diagnosis (``weir diagnose --json`` form), which keeps them whole; a cause's
``evidence`` list is only a preview of them."""

from __future__ import annotations

import re
from collections.abc import Sequence

LIMIT = 120  # lines of evidence per cause in a message; past it, a pointer to the whole
CONTEXT = 3  # unchanged lines kept on each side of a changed one
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def cause_lines(cause: dict, diagnosis: dict) -> list[str]:
    """The evidence of ``cause`` (a diagnosis's cause), whole, from the diagnosis where it keeps more."""
    kind = cause.get("kind")
    if kind == "code" and (diagnosis.get("code") or {}).get("diff"):
        return hunks(diagnosis["code"]["diff"])
    if kind == "library" and diagnosis.get("packages"):
        return [package_line(p) for p in diagnosis["packages"]]
    if kind == "configuration" and (diagnosis.get("config") or {}).get("changes"):
        return [f"{c['setting']}: {sign} {line}" for c in diagnosis["config"]["changes"]
                for sign, lines in (("-", c["removed"]), ("+", c["added"])) for line in lines]
    return list(cause.get("evidence") or [])


def package_line(p: dict) -> str:
    major = ", major" if p.get("major") else ""
    return f"{p['package']} {p.get('from') or '—'} → {p.get('to') or '—'} ({p['change']}{major})"


def cut(lines: Sequence[str], pointer: str, limit: int = LIMIT) -> list[str]:
    """``lines`` whole when they fit in ``limit``; else the first ones and ``… N more lines: <pointer>``."""
    if len(lines) <= limit:
        return list(lines)
    keep = limit - 1
    return [*lines[:keep], f"… {len(lines) - keep} more lines: {pointer}"]


def hunks(diff: Sequence[str], context: int = CONTEXT) -> list[str]:
    """A unified diff as hunks holding the changed lines with at most ``context`` unchanged lines
    on each side, each under its ``@@ -a,b +c,d @@`` header (the ``---``/``+++`` headers dropped).
    Lines it cannot place (not a unified diff) are returned as they are."""
    parsed: list[tuple[str, str, int, int]] = []  # (tag, text, old line, new line) at each line
    old = new = 0
    in_hunk = False
    for line in diff:
        header = _HUNK.match(line)
        if header:
            old, new, in_hunk = int(header.group(1)), int(header.group(3)), True
            # an empty side ("-0,0" or "-4,0") starts after the line it names
            old += header.group(2) == "0"
            new += header.group(4) == "0"
            parsed.append(("@", line, old, new))
            continue
        if not in_hunk:
            continue  # the --- / +++ file headers
        tag = line[:1] if line[:1] in ("+", "-", " ") else " "
        parsed.append((tag, line, old, new))
        old += tag in (" ", "-")
        new += tag in (" ", "+")
    if not any(tag in "+-" for tag, *_ in parsed):
        return [line for line in diff if not line.startswith(("---", "+++"))]
    changed = [i for i, (tag, *_) in enumerate(parsed) if tag in "+-"]
    keep = set()
    for i in changed:
        for j in range(i - context, i + context + 1):
            if 0 <= j < len(parsed) and parsed[j][0] != "@":
                keep.add(j)
    out: list[str] = []
    run: list[int] = []
    for i in range(len(parsed) + 1):
        if i in keep:  # a hunk header is never kept: it ends the run
            run.append(i)
            continue
        if run:
            out.extend(_hunk([parsed[j] for j in run]))
            run = []
    return out


def _hunk(lines: list[tuple[str, str, int, int]]) -> list[str]:
    old_n = sum(t in (" ", "-") for t, *_ in lines)
    new_n = sum(t in (" ", "+") for t, *_ in lines)
    old_at, new_at = lines[0][2] - (old_n == 0), lines[0][3] - (new_n == 0)
    return [f"@@ -{old_at},{old_n} +{new_at},{new_n} @@", *(text for _, text, *_ in lines)]
