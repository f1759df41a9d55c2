"""A bounded on-disk spool of batches for while the database is unreachable.

Files (segments) hold length-prefixed, checksummed records, each fsynced before `append`
returns: `MAGIC | length u32 | crc32 u32 | payload`. Appends always go to a fresh segment after a
start, so a tail truncated by a crash is never appended to. Reading detects a truncated or
corrupt record, reports it and skips it; it never raises for bad file content.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"IOCS"
_HEADER = struct.Struct(">4sII")
_SUFFIX = ".spool"


@dataclass
class Segment:
    """One spool file, with the records read from it and what was wrong in it."""

    path: Path
    records: list[bytes] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class Spool:
    """Append-only segments under `directory`; the oldest are dropped past `max_bytes`."""

    def __init__(self, directory: Path, *, max_bytes: int = 512 * 2**20,
                 segment_bytes: int = 8 * 2**20) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.dropped_bytes = 0
        self._fd: int | None = None
        self._current: Path | None = None
        self._current_size = 0
        self._current_records = 0
        self._records: dict[Path, int] = {}  # sealed segments never change: count them once
        directory.mkdir(parents=True, exist_ok=True)

    def segments(self) -> list[Path]:
        """Every segment, oldest first."""
        return sorted(self.directory.glob(f"*{_SUFFIX}"))

    def size_bytes(self) -> int:
        """Bytes held on disk."""
        return sum(p.stat().st_size for p in self.segments() if p.exists())

    def records(self) -> int:
        """Batches held on disk (records whose header is intact; replayed ones included until
        their segment is removed)."""
        found = self.segments()
        self._records = {p: self._records[p] for p in found if p in self._records}
        total = 0
        for path in found:
            if path == self._current:
                total += self._current_records
            elif path in self._records:
                total += self._records[path]
            else:
                try:
                    data = path.read_bytes()
                except FileNotFoundError:  # removed meanwhile (replayed or dropped)
                    continue
                total += self._records.setdefault(path, count_records(data))
        return total

    def has_sealed(self) -> bool:
        """True when some segment other than the one being appended to holds records."""
        return any(p != self._current for p in self.segments())

    def append(self, payload: bytes) -> None:
        """Write one record durably (fsync) before returning."""
        data = zlib.compress(payload, 1)
        record = _HEADER.pack(MAGIC, len(data), zlib.crc32(data)) + data
        self._make_room(len(record))
        if self._fd is None or self._current_size + len(record) > self.segment_bytes:
            self._open_segment()
        assert self._fd is not None
        os.write(self._fd, record)
        os.fsync(self._fd)
        self._current_size += len(record)
        self._current_records += 1

    def seal(self) -> None:
        """Close the segment being appended to; the next append starts a new one."""
        if self._fd is not None:
            os.close(self._fd)
        if self._current is not None:
            self._records[self._current] = self._current_records
        self._fd, self._current, self._current_size = None, None, 0
        self._current_records = 0

    def sealed(self) -> list[Path]:
        """Segments ready to replay, oldest first."""
        return [p for p in self.segments() if p != self._current]

    def remove(self, path: Path) -> None:
        """Delete a segment whose records are all stored."""
        path.unlink(missing_ok=True)

    def reject(self, payload: bytes, why: str) -> Path:
        """Keep a batch the database refused as data (not for connectivity) for inspection."""
        folder = self.directory / "rejected"
        folder.mkdir(exist_ok=True)
        path = folder / f"{len(list(folder.iterdir())):08d}.json"
        path.write_bytes(payload)
        path.with_suffix(".why").write_text(why, encoding="utf-8")
        return path

    def _open_segment(self) -> None:
        self.seal()
        existing = self.segments()
        seq = int(existing[-1].stem) + 1 if existing else 1
        self._current = self.directory / f"{seq:012d}{_SUFFIX}"
        self._fd = os.open(self._current, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._current_size = 0
        self._current_records = 0
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name must survive a crash too
        finally:
            os.close(dir_fd)

    def _make_room(self, incoming: int) -> None:
        total = self.size_bytes()
        for path in self.sealed():
            if total + incoming <= self.max_bytes:
                return
            size = path.stat().st_size
            log.error("spool is full (%d bytes > %d): dropping the oldest segment %s "
                      "(%d bytes of samples lost)", total + incoming, self.max_bytes,
                      path.name, size)
            path.unlink()
            self.dropped_bytes += size
            total -= size


def count_records(data: bytes) -> int:
    """How many records a segment's bytes hold, from their headers alone (no decompression)."""
    count = pos = 0
    while len(data) - pos >= _HEADER.size:
        magic, length, _ = _HEADER.unpack_from(data, pos)
        if magic != MAGIC:
            pos = data.find(MAGIC, pos + 1)
            if pos < 0:
                break
            continue
        if len(data) - pos - _HEADER.size < length:
            break
        count += 1
        pos += _HEADER.size + length
    return count


def read_segment(path: Path) -> Segment:
    """The records of a segment; a truncated or corrupt record is reported and skipped."""
    seg = Segment(path)
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        if len(data) - pos < _HEADER.size:
            seg.problems.append(f"truncated record header at byte {pos} (tail skipped)")
            break
        magic, length, crc = _HEADER.unpack_from(data, pos)
        if magic != MAGIC:
            nxt = data.find(MAGIC, pos + 1)
            seg.problems.append(f"corrupt data at byte {pos}, skipped to "
                                f"{nxt if nxt >= 0 else 'the end'}")
            if nxt < 0:
                break
            pos = nxt
            continue
        body = data[pos + _HEADER.size:pos + _HEADER.size + length]
        if len(body) < length:
            seg.problems.append(f"truncated record at byte {pos} (tail skipped)")
            break
        pos += _HEADER.size + length
        if zlib.crc32(body) != crc:
            seg.problems.append(f"checksum mismatch in record ending at byte {pos} (skipped)")
            continue
        try:
            seg.records.append(zlib.decompress(body))
        except zlib.error:
            seg.problems.append(f"undecodable record ending at byte {pos} (skipped)")
    return seg
