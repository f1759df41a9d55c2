"""The catalogue in the database, docs/KPI.md and ioc_kpi agree on what exists."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ioc import db
from ioc.kpi import read_kpi

DOC = Path(__file__).resolve().parents[2] / "docs" / "KPI.md"


@pytest.fixture(scope="module")
def catalogue(db_url: str) -> list[tuple[str, str, str, list[str]]]:
    with db.connect(db_url) as conn:
        rows = conn.execute("SELECT id, name_vi, name_en, group_by FROM kpi_definitions "
                            "ORDER BY id").fetchall()
    return [(r[0], r[1], r[2], list(r[3])) for r in rows]


def test_every_kpi_is_documented_with_both_names(
        catalogue: list[tuple[str, str, str, list[str]]]) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(catalogue) >= 30
    for kpi, name_vi, name_en, _ in catalogue:
        assert f"`{kpi}`" in text, kpi
        assert name_vi in text and name_en in text, kpi


def test_every_catalogued_kpi_answers_for_every_grouping(
        db_url: str, catalogue: list[tuple[str, str, str, list[str]]]) -> None:
    window = (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 12, tzinfo=UTC))
    with db.connect(db_url) as conn:
        for kpi, _, _, groupings in catalogue:
            for by in groupings:
                rows = read_kpi(conn, kpi, *window, {"by": by})
                assert all(r.kpi == kpi for r in rows)
        with pytest.raises(psycopg.Error):
            conn.execute("SELECT * FROM ioc_kpi('availability', now(), now() - interval '1h')")
