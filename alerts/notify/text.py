"""The words of notifications, Vietnamese by default and English on request."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.notify.base import Message

PROVINCE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "firing": "ĐANG CẢNH BÁO", "resolved": "ĐÃ KHẮC PHỤC",
        "critical": "Nghiêm trọng", "warning": "Cảnh báo", "info": "Thông tin",
        "repeat": "Nhắc lại", "escalation": "Chuyển cấp {level}",
        "alerts": "{n} cảnh báo", "value": "Giá trị", "since": "Bắt đầu",
        "ended": "Kết thúc", "labels": "Nhãn", "ack": "Xác nhận đã tiếp nhận",
        "time_zone": "giờ Việt Nam", "footer": "Trung tâm Giám sát, điều hành thông minh (IOC)",
    },
    "en": {
        "firing": "FIRING", "resolved": "RESOLVED",
        "critical": "Critical", "warning": "Warning", "info": "Info",
        "repeat": "Reminder", "escalation": "Escalation level {level}",
        "alerts": "{n} alerts", "value": "Value", "since": "Since",
        "ended": "Ended", "labels": "Labels", "ack": "Acknowledge",
        "time_zone": "Vietnam time", "footer": "Smart operations centre (IOC)",
    },
}


def words(language: str) -> dict[str, str]:
    """The vocabulary of a language (Vietnamese when unknown)."""
    return WORDS.get(language, WORDS["vi"])


def local_time(iso: str | None, language: str) -> str:
    """An event time as people in the province read it: 14:05 21/03/2025 (giờ Việt Nam)."""
    if not iso:
        return ""
    at = datetime.fromisoformat(iso).astimezone(PROVINCE_TZ)
    return f"{at:%H:%M %d/%m/%Y} ({words(language)['time_zone']})"


def number(value: Any) -> str:
    """A value for people: integers without decimals, others with up to 3 significant places."""
    if value is None:
        return "—"
    v = float(value)
    return str(int(v)) if v.is_integer() else f"{v:.4g}"


def event_title(ev: Mapping[str, Any], language: str) -> str:
    """`[ĐANG CẢNH BÁO] Nghiêm trọng: summary` with the kind of message when not the first."""
    w = words(language)
    head = f"[{w[ev['status']]}] {w.get(ev['severity'], ev['severity'])}"
    if ev["kind"] == "repeat":
        head += f" ({w['repeat']})"
    elif ev["kind"] == "escalation":
        head += f" ({w['escalation'].format(level=ev['level'])})"
    summary = ev["annotations"].get("summary") or ev["rule"]
    return f"{head}: {summary}"


def title(message: Message) -> str:
    """The subject of a whole message: the event's title, or a count for a group."""
    if len(message.events) == 1:
        return event_title(message.events[0], message.language)
    w = words(message.language)
    systems = sorted({e["labels"].get("system", "") for e in message.events} - {""})
    count = w["alerts"].format(n=len(message.events))
    return f"[{w[message.status]}] {count}" + (f": {', '.join(systems)}" if systems else "")


def event_lines(ev: Mapping[str, Any], language: str) -> list[tuple[str, str]]:
    """(label, text) pairs describing one event, in reading order."""
    w = words(language)
    rows = [(w["value"], number(ev["value"])), (w["since"], local_time(ev["firing_at"]
                                                                      or ev["started_at"],
                                                                      language))]
    if ev["status"] == "resolved":
        rows.append((w["ended"], local_time(ev["resolved_at"], language)))
    shown = {k: v for k, v in ev["labels"].items() if k != "rule"}
    rows.append((w["labels"], ", ".join(f"{k}={v}" for k, v in sorted(shown.items()))))
    return [(k, v) for k, v in rows if v]
