"""The spool keeps batches durably in order, and a damaged file is reported, never a crash."""

from __future__ import annotations

import random
from pathlib import Path

from collectors.spool import Spool, read_segment


def fill(spool: Spool, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        spool.append(f"batch {i:04d} ".encode() + random.randbytes(100))


def records(spool: Spool) -> list[bytes]:
    return [r for p in spool.segments() for r in read_segment(p).records]


def test_spool_returns_records_in_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=300)
    fill(spool, 10)
    spool.seal()
    fill(Spool(tmp_path, segment_bytes=300), 5, start=10)  # a restart appends to a new file
    got = records(spool)
    assert [r[6:10] for r in got] == [f"{i:04d}".encode() for i in range(15)]
    assert len(spool.segments()) > 2


def test_truncated_tail_is_reported_and_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    fill(spool, 3)
    spool.seal()
    [path] = spool.segments()
    data = path.read_bytes()
    for cut in (len(data) - 5, len(data) - len(data) // 3 + 4):
        path.write_bytes(data[:cut])
        seg = read_segment(path)
        assert len(seg.records) == 2 and seg.records[0].startswith(b"batch 0000")
        assert len(seg.problems) == 1 and "truncated" in seg.problems[0]


def test_corrupt_record_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    fill(spool, 3)
    spool.seal()
    [path] = spool.segments()
    data = bytearray(path.read_bytes())
    data[20] ^= 0xFF  # inside the first record's payload
    path.write_bytes(bytes(data))
    seg = read_segment(path)
    assert [r[6:10] for r in seg.records] == [b"0001", b"0002"]
    assert "checksum" in seg.problems[0]
    path.write_bytes(b"garbage!" + bytes(data[8:]))
    seg = read_segment(path)
    assert len(seg.records) == 2 and "corrupt data at byte 0" in seg.problems[0]


def test_full_spool_drops_the_oldest_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=2000, segment_bytes=500)
    fill(spool, 40)
    assert spool.size_bytes() <= 2000
    assert spool.dropped_bytes > 0
    kept = records(spool)
    assert kept[-1].startswith(b"batch 0039")
    assert not kept[0].startswith(b"batch 0000")


def test_records_counts_batches_across_segments_restarts_and_drops(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=300)
    assert spool.records() == 0
    fill(spool, 7)
    assert spool.records() == 7 == len(records(spool))
    spool.seal()
    again = Spool(tmp_path, max_bytes=1500, segment_bytes=300)  # a restart counts the files
    assert again.records() == 7
    fill(again, 20, start=7)
    assert again.dropped_bytes > 0  # the oldest files went to make room
    assert again.records() == len(records(again)) < 27
    newest = again.segments()[-1]
    again.seal()
    newest.write_bytes(newest.read_bytes()[:-5])  # a torn record is not a batch
    assert Spool(tmp_path).records() == len(records(again))
