"""Label matchers as in Alertmanager: `severity="critical"`, `system=~"portal|payments"`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any, Literal

from pydantic import Field, model_validator

from ioc.config.types import LabelName, Model, fail

_MATCHER = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*")
_HINT = 'write label=value, label!=value, label=~regex or label!~regex, e.g. severity="critical"'


class Matcher(Model):
    """One condition on an alert's labels; written as text or as {label, op, value}."""

    label: LabelName = Field(description="The label name the matcher looks at.")
    op: Literal["=", "!=", "=~", "!~"] = Field(
        description="`=` equal, `!=` not equal, `=~` matches the regex, `!~` does not match "
        "(regexes are anchored at both ends, as in Alertmanager).")
    value: str = Field(description="The value or the regular expression.")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        match = _MATCHER.fullmatch(data)
        if match is None:
            fail(f"invalid matcher '{data}'", _HINT)
        label, op, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        return {"label": label, "op": op, "value": value}

    @model_validator(mode="after")
    def _regex_compiles(self) -> Matcher:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                fail(f"invalid regex '{self.value}' in matcher: {exc}",
                     "fix the regular expression (Python syntax)")
        return self

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The compiled, fully anchored regex (for `=~` and `!~`)."""
        return re.compile(f"(?:{self.value})\\Z")

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when the label set satisfies this matcher (a missing label is the empty string)."""
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self.regex.match(actual) is not None
        return found if self.op == "=~" else not found

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


def match_all(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def matchers_json(matchers: Sequence[Matcher]) -> str:
    """The stored form: a JSON array of {label, op, value} (what ioc_labels_match reads)."""
    return json.dumps([m.model_dump() for m in matchers], ensure_ascii=False)
