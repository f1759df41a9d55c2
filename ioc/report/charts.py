"""Small inline SVG charts (no JavaScript): bars against a target line, daily columns."""

from __future__ import annotations

from markupsafe import Markup, escape

from ioc.report.numbers import number

COLOURS = {"green": "#2e7d32", "amber": "#f9a825", "red": "#c62828", "grey": "#9e9e9e"}


def bars(items: list[tuple[str, float | None, float, str]], *, language: str = "vi",
         width: int = 520, label_width: int = 190, unit: str = "", digits: int = 2,
         of_target: bool = False) -> Markup:
    """Horizontal bars: (label, value, target, light) with values on a 0..max scale, the value
    written with the language's decimal separator (`3,50` in Vietnamese), as in the tables, and
    with `of_target` the target after it (`3,50 / 4`, a score out of its maximum)."""
    row, pad = 22, 4
    top = max([v or 0.0 for _, v, _, _ in items] + [t for _, _, t, _ in items] + [1e-9])
    scale = (width - label_width - 70) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{row * len(items) + pad}" role="img">']
    for i, (label, value, target, light) in enumerate(items):
        y = i * row + pad
        parts.append(f'<text x="0" y="{y + 14}" font-size="11">{escape(label)}</text>')
        if value is not None:
            parts.append(f'<rect x="{label_width}" y="{y + 2}" width="{value * scale:.1f}" '
                         f'height="14" fill="{COLOURS[light]}"/>')
        x = label_width + target * scale
        parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 18}" '
                     'stroke="#212121" stroke-width="1.5"/>')
        text = number(value, language, digits) + ("" if value is None else unit)
        if of_target:
            text += f" / {number(target, language, 0 if target == int(target) else digits)}"
        parts.append(f'<text x="{label_width + (value or 0) * scale + 4:.1f}" y="{y + 14}" '
                     f'font-size="10">{text}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - labels escaped above, the rest is numbers


def columns(values: list[float | None], *, floor: float, target: float, width: int = 140,
            height: int = 36) -> Markup:
    """Daily columns between `floor` and 1 with the target line; grey gaps for no data."""
    n = max(len(values), 1)
    w = width / n
    span = max(1.0 - floor, 1e-9)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">']
    for i, v in enumerate(values):
        if v is None:
            parts.append(f'<rect x="{i * w + 1:.1f}" y="{height - 3}" width="{w - 2:.1f}" '
                         f'height="3" fill="{COLOURS["grey"]}"/>')
            continue
        h = max(2.0, (max(v, floor) - floor) / span * height)
        colour = COLOURS["green"] if v >= target else COLOURS["red"]
        parts.append(f'<rect x="{i * w + 1:.1f}" y="{height - h:.1f}" width="{w - 2:.1f}" '
                     f'height="{h:.1f}" fill="{colour}"/>')
    y = height - (target - floor) / span * height
    parts.append(f'<line x1="0" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#212121" '
                 'stroke-dasharray="3,2"/></svg>')
    return Markup("".join(parts))  # noqa: S704 - labels escaped above, the rest is numbers
