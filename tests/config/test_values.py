"""Value types and the YAML reader: durations, percentages, JSON paths, plain YAML values."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic_core import PydanticCustomError

from ioc.config import JsonPath, JsonPathError, format_duration, parse_duration, parse_percent
from ioc.config.source import read_document


@pytest.mark.parametrize(("text", "expected"), [
    ("500ms", timedelta(milliseconds=500)),
    ("30s", timedelta(seconds=30)),
    ("5m", timedelta(minutes=5)),
    ("1h", timedelta(hours=1)),
    ("1h30m", timedelta(minutes=90)),
    ("2d", timedelta(days=2)),
    ("1w", timedelta(weeks=1)),
    ("0s", timedelta(0)),
])
def test_parse_duration_accepts_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize(("value", "message"), [
    ("30", "invalid duration '30'"),
    ("5 m", "invalid duration '5 m'"),
    ("1.5h", "invalid duration '1.5h'"),
    ("-5m", "invalid duration '-5m'"),
    ("m5", "invalid duration 'm5'"),
    ("", "invalid duration ''"),
    (30, "duration must be text like 30s, not 30"),
])
def test_parse_duration_refuses_bad_text_precisely(value: object, message: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        parse_duration(value)
    assert str(caught.value) == message


def test_format_duration_is_shortest() -> None:
    assert format_duration(timedelta(minutes=90)) == "1h30m"
    assert format_duration(timedelta(milliseconds=1500)) == "1s500ms"
    assert format_duration(timedelta(days=14)) == "2w"


@pytest.mark.parametrize(("text", "expected"), [("99.5%", 0.995), ("98%", 0.98), ("0%", 0.0)])
def test_parse_percent_gives_a_fraction(text: str, expected: float) -> None:
    assert parse_percent(text) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "message"), [
    (0.98, "percentage must be written with %, not 0.98"),
    ("98", "invalid percentage '98'"),
    ("abc%", "invalid percentage 'abc%'"),
    ("120%", "percentage '120%' is outside 0%..100%"),
])
def test_parse_percent_refuses_ambiguous_numbers(value: object, message: str) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        parse_percent(value)
    assert str(caught.value) == message


STATS = {"received": 7, "by_channel": {"2": 4},
         "by_agency": [{"agency_code": "A", "late": 1}, {"agency_code": "B", "late": 3}]}


@pytest.mark.parametrize(("path", "values"), [
    ("received", [7]),
    ("$.received", [7]),
    ("by_channel.2", [4]),
    ("by_agency[*].late", [1, 3]),
    ("by_agency[-1].agency_code", ["B"]),
    ('["by_agency"][0].late', [1]),
    ("by_agency[5].late", []),
    ("missing.deeper", []),
])
def test_json_path_finds_values(path: str, values: list[object]) -> None:
    assert JsonPath.parse(path).values(STATS) == values


def test_json_path_gives_the_parent_for_sibling_labels() -> None:
    found = JsonPath.parse("by_agency[*].late").find(STATS)
    assert [(value, parent["agency_code"]) for value, parent in found] == [(1, "A"), (3, "B")]


@pytest.mark.parametrize("path", ["", "$", "a..b", "a[x]", "a[", "a b"])
def test_json_path_refuses_bad_syntax(path: str) -> None:
    with pytest.raises(JsonPathError):
        JsonPath.parse(path)


def test_yaml_reader_keeps_times_and_words_as_text(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text("a: 22:00\nb: no\nc: on\nd: 2025-04-26\ne: 010\nf: 1.5\ng: true\nh: ~\n"
                    "i: 12\nj: 1e3\n")
    doc = read_document(file, {})
    assert doc.problems == []
    assert doc.data == {"a": "22:00", "b": "no", "c": "on", "d": "2025-04-26", "e": "010",
                        "f": 1.5, "g": True, "h": None, "i": 12, "j": "1e3"}


def test_yaml_reader_records_key_and_value_positions(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text("top:\n  - name: x\n    url: 'http://a'\n")
    doc = read_document(file, {})
    assert (doc.keys[("top", 0, "url")].line, doc.keys[("top", 0, "url")].column) == (3, 5)
    assert (doc.values[("top", 0, "url")].line, doc.values[("top", 0, "url")].column) == (3, 10)
    assert doc.values[("top", 0)].line == 2


def test_env_expansion_forms(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text("a: ${X}\nb: ${Y:-fallback}\nc: ${X:-unused}/x\nd: $${X}\ne: cost $$5\n"
                    "f: ${EMPTY:-}\n")
    doc = read_document(file, {"X": "value-of-x"})
    assert doc.problems == []
    assert doc.data == {"a": "value-of-x", "b": "fallback", "c": "value-of-x/x", "d": "${X}",
                        "e": "cost $5", "f": ""}
    assert doc.secrets == {"value-of-x"}
