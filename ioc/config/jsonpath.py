"""JSON path lite: dotted keys, list indexes and `[*]`, e.g. `by_agency[*].late`, `$.items[0].id`.

A dotted key may be digits (`by_channel.2` reads the key "2" of an object).

Parsed once at config load time (so a bad path is a config error) and evaluated by collectors.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(r"\.?([A-Za-z0-9_][A-Za-z0-9_-]*)|\[(\*|-?\d+)\]|\.?\[\"([^\"]+)\"\]")

Step = str | int | None
"""A key, a list index, or None for `[*]` (every element)."""


class JsonPathError(ValueError):
    """The text is not a JSON path this module understands."""


@dataclass(frozen=True)
class JsonPath:
    """A parsed path; `find` returns every value it reaches with the elements `[*]` passed."""

    text: str
    steps: tuple[Step, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPath:
        """Parse `a.b[0].c`, `items[*].late`, `$.status` or `["key with space"]`."""
        body = text.strip()
        if body.startswith("$"):
            body = body[1:]
        if not body:
            raise JsonPathError("empty JSON path")
        steps: list[Step] = []
        pos = 0
        while pos < len(body):
            match = _TOKEN.match(body, pos)
            if match is None:
                raise JsonPathError(f"unexpected {body[pos:]!r} in JSON path '{text}'")
            key, index, quoted = match.groups()
            if key is not None:
                steps.append(key)
            elif quoted is not None:
                steps.append(quoted)
            else:
                steps.append(None if index == "*" else int(index))
            pos = match.end()
        return cls(text, tuple(steps))

    @property
    def has_wildcard(self) -> bool:
        """True when the path fans out over a list (`[*]`)."""
        return None in self.steps

    def find(self, document: Any) -> list[tuple[Any, Any]]:
        """Every `(value, parent)` the path reaches; parent is the object holding the last key.

        The parent lets a mapping take labels from sibling fields (`agency: agency_code`).
        """
        return list(self._walk(document, None, 0))

    def values(self, document: Any) -> list[Any]:
        """Every value the path reaches (empty when it reaches none)."""
        return [value for value, _ in self.find(document)]

    def _walk(self, node: Any, parent: Any, i: int) -> Iterator[tuple[Any, Any]]:
        if i == len(self.steps):
            yield node, parent
            return
        step = self.steps[i]
        if step is None:
            if isinstance(node, list):
                for item in node:
                    yield from self._walk(item, node, i + 1)
        elif isinstance(step, int):
            if isinstance(node, list) and -len(node) <= step < len(node):
                yield from self._walk(node[step], node, i + 1)
        elif isinstance(node, dict) and step in node:
            yield from self._walk(node[step], node, i + 1)

    def __str__(self) -> str:
        return self.text
