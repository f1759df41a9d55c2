"""Conditions an HTTP probe's response must meet, validated (and compiled) at load time.

Each is written with its own key, like gatus but structured:
`{body_contains: "..."}`, `{body_regex: "..."}`, `{json_path: status, equals: ok}`,
`{json_path: items, exists: true}`, `{response_time_below: 2s}`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from ioc.config.jsonpath import JsonPath, JsonPathError
from ioc.config.types import Model, PositiveDuration, fail


class BodyContains(Model):
    """The response body contains this text (after decoding as UTF-8)."""

    body_contains: str = Field(min_length=1, description="Text the body must contain.")

    def check(self, body: str) -> bool:
        """True when the body contains the text."""
        return self.body_contains in body


class BodyRegex(Model):
    """The response body matches this regular expression somewhere (Python `re.search`)."""

    body_regex: str = Field(description="Regular expression searched for in the body.")

    @field_validator("body_regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            fail(f"invalid regex '{value}': {exc}",
                 "fix the regular expression (Python syntax); escape ( [ . with a backslash "
                 "to match them literally")
        return value

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """The compiled expression."""
        return re.compile(self.body_regex)

    def check(self, body: str) -> bool:
        """True when the expression is found in the body."""
        return self.pattern.search(body) is not None


def _parse_path(value: str) -> str:
    try:
        JsonPath.parse(value)
    except JsonPathError as exc:
        fail(str(exc), "write a dotted path such as status, data.items[0].id or "
             "by_agency[*].late")
    return value


class JsonPathCondition(Model):
    """A value in the JSON body: equal to a given value, or present (`exists: true`) or absent."""

    json_path: str = Field(description="Path into the JSON body, e.g. `status` or `items[0].id`.")
    equals: str | int | float | bool | None = Field(
        default=None, description="The value the path must hold (compared as JSON values; "
        "text compares with the text form of numbers).")
    exists: bool | None = Field(
        default=None, description="true: the path must reach a value; false: it must not.")

    @field_validator("json_path")
    @classmethod
    def _parses(cls, value: str) -> str:
        return _parse_path(value)

    @model_validator(mode="after")
    def _one_test(self) -> JsonPathCondition:
        if (self.equals is None) == (self.exists is None):
            fail("a json_path condition needs exactly one of 'equals' or 'exists'",
                 "add equals: <value> or exists: true")
        return self

    @cached_property
    def path(self) -> JsonPath:
        """The parsed path."""
        return JsonPath.parse(self.json_path)

    def check(self, document: Any) -> bool:
        """True when the parsed JSON document meets the condition."""
        found = self.path.values(document)
        if self.exists is not None:
            return bool(found) == self.exists
        return any(v == self.equals or str(v) == str(self.equals) for v in found)


class ResponseTimeBelow(Model):
    """The whole response (first byte to last) arrived in less than this time."""

    response_time_below: PositiveDuration = Field(
        description="Maximum response time, e.g. 2s or 800ms.")

    def check(self, elapsed: timedelta) -> bool:
        """True when the response was fast enough."""
        return elapsed < self.response_time_below


_KEYS = ("body_contains", "body_regex", "json_path", "response_time_below")


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, Model):
        return next(k for k in _KEYS if hasattr(value, k))
    if isinstance(value, dict):
        present = [k for k in _KEYS if k in value]
        return present[0] if len(present) == 1 else None
    return None


Condition = Annotated[
    Annotated[BodyContains, Tag("body_contains")]
    | Annotated[BodyRegex, Tag("body_regex")]
    | Annotated[JsonPathCondition, Tag("json_path")]
    | Annotated[ResponseTimeBelow, Tag("response_time_below")],
    Discriminator(
        _condition_tag,
        custom_error_type="config",
        custom_error_message="a condition needs exactly one of: " + ", ".join(_KEYS),
        custom_error_context={
            "message": "a condition needs exactly one of: " + ", ".join(_KEYS),
            "hint": "write e.g. {body_contains: ok} or {json_path: status, equals: ok}",
        },
    ),
]
"""One response condition; which one is decided by the key written."""

CONDITION_KEYS = _KEYS
