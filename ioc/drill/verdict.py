"""A verdict: one check of the drill with what was expected, what was observed and PASS/FAIL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table; `ok` None marks a check that was not made (N/A: the
    observed text says why)."""

    check: str
    expected: str
    observed: str
    ok: bool | None

    @property
    def status(self) -> str:
        return "N/A" if self.ok is None else "PASS" if self.ok else "FAIL"


def all_pass(verdicts: Sequence[Verdict]) -> bool:
    """True when at least one check was made and none failed (N/A rows are neither)."""
    made = [v for v in verdicts if v.ok is not None]
    return bool(made) and all(v.ok for v in made)


def format_table(verdicts: Sequence[Verdict], width: int = 60) -> str:
    """A plain-text table: check, expected, observed, PASS/FAIL/N/A (long cells cut at
    `width`); the reasons of N/A rows follow the table in full."""
    header = ("check", "expected", "observed", "verdict")
    notes = [v for v in verdicts if v.ok is None]
    cells = [(v.check, v.expected, f"see note {notes.index(v) + 1}" if v.ok is None
              else v.observed, v.status) for v in verdicts]
    rows = [[_cut(c, width) for c in row] for row in [header, *cells]]
    sizes = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(c.ljust(sizes[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * s for s in sizes))
    made = [v for v in verdicts if v.ok is not None]
    lines.append(f"{sum(bool(v.ok) for v in made)}/{len(made)} checks passed, {len(notes)} "
                 "not made: " + ("DRILL PASSED" if all_pass(verdicts) else "DRILL FAILED"))
    lines += [f"note {i}: {v.check}: {v.observed}" for i, v in enumerate(notes, 1)]
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def write_json(verdicts: Sequence[Verdict], path: Path) -> None:
    """The verdicts as a JSON document (`--out`)."""
    doc = {"passed": all_pass(verdicts),
           "verdicts": [{**asdict(v), "status": v.status} for v in verdicts]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
