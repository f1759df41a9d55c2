"""Numbers as a leader reads them: the language's separators (vi: 1.234,5; en: 1,234.5)."""

from __future__ import annotations


def number(value: float | None, language: str, digits: int = 2, none: str = "—") -> str:
    """A number with the language's separators (vi: 1.234,5; en: 1,234.5)."""
    if value is None:
        return none
    text = f"{value:,.{digits}f}"
    if language == "vi":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def percent(value: float | None, language: str, digits: int = 2) -> str:
    """A fraction as a percentage: 0.5455 -> `54,55%`."""
    return "—" if value is None else number(value * 100, language, digits) + "%"
