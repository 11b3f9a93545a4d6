"""What has landed for a source, looked at often and cheaply: the daemon asks every second.

A source whose path template names one folder (``landing/flights/{partition}.csv``) is read
with one directory listing; the fingerprint of a file is computed again only when its size or
modification time changed since the last look. Other templates (glob characters, a partition
in the folder part) are resolved partition by partition."""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weir.model.definitions import Source


class LandingScanner:
    """Remembers, per source, the expected path of every partition and the last stat of every
    file, so a look at an unchanged folder costs one listing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: dict[str, tuple[int, dict[str, str]]] = {}  # source -> (key count, {path: key})
        self._stats: dict[str, tuple[int, int, str]] = {}  # path -> (size, mtime_ns, fingerprint)

    def landed(self, source: Source) -> dict[str, tuple[str, float]]:
        """{partition key: (fingerprint of its files, newest modification time)} for every
        partition of ``source`` with files."""
        folder = self._single_folder(source)
        if folder is None:
            return self._one_by_one(source)
        paths = self._expected(source)
        out: dict[str, tuple[str, float]] = {}
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return out
        for entry in entries:
            key = paths.get(entry.path)
            if key is None:
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            if not entry.is_file():
                continue
            out[key] = (self._fingerprint(entry.path, st.st_size, st.st_mtime_ns), st.st_mtime_ns / 1e9)
        return out

    def _single_folder(self, source: Source) -> str | None:
        head, _, tail = source.path.replace("\\", "/").rpartition("/")
        if "{" in head or glob.has_magic(head) or glob.has_magic(tail.replace("{partition}", "")):
            return None
        if "{partition}" not in tail and "{start" not in tail and source.partitions.is_partitioned:
            return None
        return str(self.root / head) if head else str(self.root)

    def _expected(self, source: Source) -> dict[str, str]:
        from weir.storage.sources import source_pattern

        keys = source.partitions.keys()
        cached = self._paths.get(source.name)
        if cached is None or cached[0] != len(keys):
            cached = (len(keys), {os.path.normpath(source_pattern(source, self.root, k)): k for k in keys})
            self._paths[source.name] = cached
        return cached[1]

    def _fingerprint(self, path: str, size: int, mtime_ns: int) -> str:
        known = self._stats.get(path)
        if known is not None and known[0] == size and known[1] == mtime_ns:
            return known[2]
        from weir.storage.sources import fingerprint

        try:
            fp = fingerprint([path])
        except OSError:
            return ""
        self._stats[path] = (size, mtime_ns, fp)
        return fp

    def _one_by_one(self, source: Source) -> dict[str, tuple[str, float]]:
        from weir.storage.sources import fingerprint, source_files

        out: dict[str, tuple[str, float]] = {}
        for key in source.partitions.keys():
            files = source_files(source, self.root, key)
            if not files:
                continue
            try:
                newest = max(os.stat(f).st_mtime_ns for f in files) / 1e9
                out[key] = (fingerprint(files), newest)
            except OSError:
                continue
        return out
