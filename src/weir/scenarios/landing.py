"""What has landed for a source, looked at often and cheaply: the daemon asks every second.

A source whose path template names one folder (``landing/flights/{partition}.csv``) is read
with one directory listing, and not even that while the folder's modification time stays the
same (a file created, renamed or deleted changes it), except for a full look every
``FULL_LOOK_SECONDS`` that notices a file rewritten in place. The fingerprint of a file is
computed again only when its size or modification time changed. Other templates (glob
characters, a partition in the folder part) are resolved partition by partition."""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weir.model.definitions import Source

FULL_LOOK_SECONDS = 5.0  # a file rewritten in place (its folder unchanged) is noticed within this


class LandingScanner:
    """Remembers, per source, the expected path of every partition and the last stat of every
    file, so a look at an unchanged folder costs one listing."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._paths: dict[str, tuple[int, dict[str, str]]] = {}  # source -> (key count, {path: key})
        # path -> (size, mtime_ns, fingerprint, when it changed: its mtime, or when first seen if that is earlier)
        self._stats: dict[str, tuple[int, int, str, float]] = {}
        # source -> (its folder's mtime_ns, when it was listed, what was found)
        self._looked: dict[str, tuple[int, float, dict[str, tuple[str, float]]]] = {}
        self._folders: dict[str, tuple[int, float, dict]] = {}  # folder -> the newest look at it

    def landed(self, source: Source) -> dict[str, tuple[str, float]]:
        """{partition key: (fingerprint of its files, when they last changed)} for every
        partition of ``source`` with files. When they changed is their modification time, or
        the moment this scanner first saw them so if that is earlier (a writer's clock ahead of
        ours never holds a trigger back)."""
        folder = self._single_folder(source)
        if folder is None:
            return self._one_by_one(source)
        paths = self._expected(source)
        out: dict[str, tuple[str, float]] = {}
        now = time.monotonic()
        try:
            folder_mtime = os.stat(folder).st_mtime_ns
            looked = self._looked.get(source.name)
            if looked is not None and looked[0] == folder_mtime and now - looked[1] < FULL_LOOK_SECONDS:
                return dict(looked[2])
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
            out[key] = self._fingerprint(entry.path, st.st_size, st.st_mtime_ns)
        self._looked[source.name] = self._folders[folder] = (folder_mtime, now, dict(out))
        return out

    def changed(self) -> bool:
        """Whether a folder looked at before was changed since (a file landed, or was renamed or
        removed there): one stat per folder, cheap enough to ask several times a second."""
        for folder, (mtime, _, _) in self._folders.items():
            try:
                if os.stat(folder).st_mtime_ns != mtime:
                    return True
            except OSError:
                return True
        return False

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

    def _fingerprint(self, path: str, size: int, mtime_ns: int) -> tuple[str, float]:
        known = self._stats.get(path)
        if known is not None and known[0] == size and known[1] == mtime_ns:
            return known[2], known[3]
        from weir.storage.sources import fingerprint

        try:
            fp = fingerprint([path])
        except OSError:
            return "", time.time()
        changed = min(mtime_ns / 1e9, time.time())
        self._stats[path] = (size, mtime_ns, fp, changed)
        return fp, changed

    def _one_by_one(self, source: Source) -> dict[str, tuple[str, float]]:
        from weir.storage.sources import fingerprint, source_files

        out: dict[str, tuple[str, float]] = {}
        for key in source.partitions.keys():
            files = source_files(source, self.root, key)
            if not files:
                continue
            try:
                newest = min(max(os.stat(f).st_mtime_ns for f in files) / 1e9, time.time())
                out[key] = (fingerprint(files), newest)
            except OSError:
                continue
        return out
