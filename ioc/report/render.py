"""Render the report data to HTML (Jinja2) and PDF (WeasyPrint with Debian's Noto/DejaVu fonts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from ioc.report import charts
from ioc.report.numbers import number, percent
from ioc.report.texts import texts
from ioc.report.week import TZ

SYSTEM_KEYS = {"portal": "portal", "payments": "payments_sys", "documents": "documents_sys"}


def duration(seconds: float | None, language: str) -> str:
    """`1 giờ 05 phút` / `1 h 05 min`."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    h, m = divmod(minutes, 60)
    if language == "vi":
        return f"{h} giờ {m:02d} phút" if h else f"{m} phút"
    return f"{h} h {m:02d} min" if h else f"{m} min"


def processing_time(days: float | None, rate: float | None, language: str) -> str:
    """766.2.2 as a leader reads it: `0,7 ngày làm việc (34 % thời hạn)`, the mean working days
    and that time as a share of the time allowed (the indicator's scored rate)."""
    if days is None:
        return "—"
    pct = "—" if rate is None else number(rate * 100, language, 0)
    return texts(language)["i2.2_value"].format(days=number(days, language, 1), pct=pct)


def local_time(iso: str | None) -> str:
    return "" if iso is None else datetime.fromisoformat(iso).astimezone(TZ).strftime(
        "%d/%m/%Y %H:%M")


def trend(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    return "▲" if now > before + 1e-9 else "▼" if now < before - 1e-9 else "＝"


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("ioc.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.globals.update(number=number, percent=percent, duration=duration,
                       local_time=local_time, trend=trend,
                       processing_time=processing_time, bars=charts.bars,
                       columns=charts.columns, colours=charts.COLOURS)
    return env


def render_html(data: dict[str, Any], *, version: int = 1,
                changes: list[dict[str, Any]] | None = None) -> str:
    """The report as a self-contained HTML page (inline CSS and SVG, no scripts)."""
    language = data["language"]
    t = texts(language)
    template = _environment().get_template("weekly.html.j2")
    return template.render(d=data, t=t, lang=language, version=version, changes=changes or [],
                           system_name=lambda s: t[SYSTEM_KEYS[s]],
                           title=data.get("title") or t["title"])


def render_pdf(html: str) -> bytes:
    """The HTML printed to PDF by WeasyPrint (A4, fonts from the system's fontconfig)."""
    from weasyprint import HTML  # imported late: it loads Pango, which takes a moment

    pdf = HTML(string=html).write_pdf()
    if pdf is None:
        raise RuntimeError("WeasyPrint produced no PDF")
    return bytes(pdf)
