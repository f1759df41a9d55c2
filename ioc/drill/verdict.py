"""A verdict: one check of the drill with what was expected, what was observed and PASS/FAIL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Verdict:
    """One row of the verdict table."""

    check: str
    expected: str
    observed: str
    ok: bool

    @property
    def status(self) -> str:
        return "PASS" if self.ok else "FAIL"


def all_pass(verdicts: Sequence[Verdict]) -> bool:
    """True when there is at least one verdict and every one passed."""
    return bool(verdicts) and all(v.ok for v in verdicts)


def format_table(verdicts: Sequence[Verdict], width: int = 60) -> str:
    """A plain-text table: check, expected, observed, PASS/FAIL (long cells cut at `width`)."""
    header = ("check", "expected", "observed", "verdict")
    rows = [[_cut(c, width) for c in row] for row in
            [header, *((v.check, v.expected, v.observed, v.status) for v in verdicts)]]
    sizes = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(c.ljust(sizes[i]) for i, c in enumerate(row)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * s for s in sizes))
    passed = sum(v.ok for v in verdicts)
    lines.append(f"{passed}/{len(verdicts)} checks passed: "
                 + ("DRILL PASSED" if all_pass(verdicts) else "DRILL FAILED"))
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def write_json(verdicts: Sequence[Verdict], path: Path) -> None:
    """The verdicts as a JSON document (`--out`)."""
    doc = {"passed": all_pass(verdicts),
           "verdicts": [{**asdict(v), "status": v.status} for v in verdicts]}
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
