"""The electronic document system: incoming and outgoing documents, signing, handling deadlines.

[inferred] shares: about 97% of incoming documents arrive electronically, 95% of outgoing ones are
digitally signed, a third travel over the national document exchange axis (trục liên thông), and
45% of incoming documents carry a handling deadline in working days.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from random import Random
from typing import Any, ClassVar

from sim.calendar import local_date
from sim.catalogue import AGENCIES
from sim.engine import Record, Step
from sim.wire import iso
from sim.worktime import Weighted, WorkTime

ARRIVE, HANDLE = 1, 2

INCOMING_SHARE = 0.55
INCOMING_ELECTRONIC = 0.97
OUTGOING_SIGNED = 0.95
OUTGOING_ELECTRONIC = 0.985
NATIONAL_AXIS = 0.33
WITH_DEADLINE = 0.45
HANDLED_LATE = 0.07
NEVER_HANDLED = 0.03
WORK_FILE_ONLINE = 0.85
DEADLINES = Weighted((3, 5, 7, 10, 15), (2, 4, 2, 2, 1))
KINDS = Weighted(
    ("Công văn", "Quyết định", "Thông báo", "Báo cáo", "Kế hoạch", "Tờ trình", "Giấy mời"),
    (55, 12, 10, 10, 6, 4, 3),
)
SUMMARIES = Weighted(
    (
        "V/v triển khai thực hiện Chỉ thị của Ủy ban nhân dân tỉnh",
        "V/v báo cáo kết quả giải quyết thủ tục hành chính",
        "V/v đôn đốc thực hiện chuyển đổi số và Đề án 06",
        "V/v góp ý dự thảo văn bản quy phạm pháp luật",
        "V/v tăng cường công tác phòng, chống thiên tai",
        "V/v kiểm tra công tác cải cách hành chính",
        "V/v thanh toán trực tuyến phí, lệ phí trên Cổng Dịch vụ công",
        "V/v số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
        "Mời dự họp giao ban trực tuyến",
        "V/v chấn chỉnh tình trạng hồ sơ quá hạn giải quyết",
    ),
    (3, 3, 2, 2, 1, 1, 1, 1, 2, 1),
)
DOC_AGENCIES = Weighted(
    [a.code for a in AGENCIES], [2.0 if a.kind == "department" else a.weight for a in AGENCIES]
)


class Document(Record):
    """An official document (văn bản) in the document system."""

    __slots__ = (
        "agency_code", "direction", "due_at", "electronic", "handled_at", "id", "kind",
        "received_at", "signed", "summary", "synthetic", "via_national_axis", "work_file_online",
    )
    SYSTEM: ClassVar[str] = "documents"

    def __init__(self, doc_id: str, direction: str, agency_code: str,
                 received_at: datetime) -> None:
        self.id = doc_id
        self.direction = direction
        self.agency_code = agency_code
        self.received_at = received_at
        self.kind = ""
        self.summary = ""
        self.signed = False
        self.electronic = False
        self.via_national_axis = False
        self.work_file_online = False
        self.due_at: datetime | None = None
        self.handled_at: datetime | None = None
        self.synthetic = False
        self.plan: list[Step] = []
        self.step = 0

    def apply(self, op: int, at: datetime, arg: Any) -> None:
        if op == HANDLE:
            self.handled_at = at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "agency_code": self.agency_code,
            "kind": self.kind,
            "summary": self.summary,
            "signed": self.signed,
            "electronic": self.electronic,
            "via_national_axis": self.via_national_axis,
            "work_file_online": self.work_file_online,
            "received_at": iso(self.received_at),
            "due_at": iso(self.due_at),
            "handled_at": iso(self.handled_at),
            "synthetic": self.synthetic,
            "updated_at": iso(self.updated_at),
        }


def plan_document(wt: WorkTime, rng: Random, doc_id: str, received_at: datetime) -> Document:
    """A document with its attributes and its planned handling."""
    incoming = rng.random() < INCOMING_SHARE
    doc = Document(doc_id, "in" if incoming else "out", DOC_AGENCIES.pick(rng), received_at)
    doc.kind = KINDS.pick(rng)
    doc.summary = SUMMARIES.pick(rng)
    doc.plan = [(received_at, ARRIVE, None)]
    if not incoming:
        doc.signed = rng.random() < OUTGOING_SIGNED
        doc.electronic = rng.random() < OUTGOING_ELECTRONIC
        doc.via_national_axis = doc.electronic and rng.random() < NATIONAL_AXIS
        return doc
    doc.electronic = rng.random() < INCOMING_ELECTRONIC
    doc.via_national_axis = doc.electronic and rng.random() < NATIONAL_AXIS
    if rng.random() >= WITH_DEADLINE:
        return doc
    doc.work_file_online = rng.random() < WORK_FILE_ONLINE
    start = local_date(received_at)
    due_day = wt.add_days(start, DEADLINES.pick(rng))
    doc.due_at = wt.due_at(due_day)
    r = rng.random()
    if r < NEVER_HANDLED:
        return doc
    if r < NEVER_HANDLED + HANDLED_LATE:
        handled_at = wt.office_time(wt.add_days(due_day, rng.randint(1, 5)), rng)
    else:
        day = wt.add_days(start, rng.randint(0, max(wt.between(start, due_day) - 1, 0)))
        handled_at = wt.office_time(day, rng)
    if handled_at <= received_at:
        handled_at = received_at + timedelta(seconds=int(rng.uniform(600, 7200)))
    doc.plan.append((handled_at, HANDLE, None))
    return doc


def document_stats(docs: Iterable[Document], now: datetime) -> dict[str, Any]:
    """Counts over real documents, judged at `now`."""
    c = dict.fromkeys(
        ("incoming", "outgoing", "outgoing_signed", "incoming_electronic", "exchanged_national",
         "with_deadline", "handled", "handled_late", "overdue", "work_files_online"), 0)
    for d in docs:
        if d.synthetic:
            continue
        if d.direction == "out":
            c["outgoing"] += 1
            c["outgoing_signed"] += d.signed
        else:
            c["incoming"] += 1
            c["incoming_electronic"] += d.electronic
        c["exchanged_national"] += d.via_national_axis
        c["work_files_online"] += d.work_file_online
        if d.due_at is not None:
            c["with_deadline"] += 1
            if d.handled_at is not None:
                c["handled"] += 1
                c["handled_late"] += d.handled_at > d.due_at
            elif now > d.due_at:
                c["overdue"] += 1
    return {"total": c["incoming"] + c["outgoing"], **c}
