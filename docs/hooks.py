"""MkDocs hooks for the documentation site (``hooks:`` in mkdocs.yml).

A pipe inside a code span of a table row is written ``\\|`` so that code hosts (GitHub's
Markdown) do not split the cell there; Python-Markdown already keeps code spans whole and would
show the backslash, so it is dropped for the site."""

from __future__ import annotations

import re

CODE_SPAN = re.compile(r"`[^`]*`")


def on_page_markdown(markdown: str, **_: object) -> str:
    out, fenced = [], False
    for line in markdown.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("|"):
            line = CODE_SPAN.sub(lambda m: m.group(0).replace("\\|", "|"), line)
        out.append(line)
    return "\n".join(out)
