"""Validate a section that has errors once more without its bad list items.

The result is only used to run the cross-reference checks, so that a config with a typo in one
escalation step still gets its routes and rotas checked in the same run ("print every error").
Names defined by the left-out items are kept as *ghosts*: references to them are not reported
as unknown, since the real error is already in the item itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from ioc.config.locate import Loc, walk

MAX_ROUNDS = 5


@dataclass
class Partial:
    """A section validated without some items, and how to map its indexes back."""

    value: Any = None
    remap: dict[Loc, list[int]] = field(default_factory=dict)
    """Per pruned list (original coordinates): the original indexes that were kept."""
    ghosts: set[str] = field(default_factory=set)


def prune(data: Any, paths: set[Loc], base: Loc, remap: dict[Loc, list[int]]) -> Any:
    """A copy of `data` (found at `base`) without the list items at `paths`."""
    if isinstance(data, list):
        kept = [i for i in range(len(data)) if (*base, i) not in paths]
        if len(kept) != len(data):
            remap[base] = kept
        return [prune(data[i], paths, (*base, i), remap) for i in kept]
    if isinstance(data, dict):
        return {k: prune(v, paths, (*base, k), remap) for k, v in data.items()}
    return data


def to_original(loc: Loc, remap: dict[Loc, list[int]]) -> Loc:
    """Translate a location in pruned data into the original data's indexes."""
    out: list[str | int] = []
    for el in loc:
        kept = remap.get(tuple(out))
        out.append(kept[el] if kept is not None and isinstance(el, int) else el)
    return tuple(out)


def _item(data: Any, loc: Loc) -> Any:
    for el in loc:
        data = data[el]
    return data


def partial(section: str, value: Any, errors: list[ErrorDetails],
            adapter: Callable[[str], TypeAdapter[Any]]) -> Partial | None:
    """Validate `value` without the list items holding errors; None when that cannot work."""
    paths: set[Loc] = set()
    for _ in range(MAX_ROUNDS):
        result = Partial()
        pruned = prune(value, paths, (section,), result.remap)
        added = set()
        for error in errors:
            where = walk({section: pruned}, (section, *error["loc"])).found
            ints = [i for i, el in enumerate(where) if isinstance(el, int)]
            if not ints:
                return None  # an error outside any list item: nothing to leave out
            added.add(to_original(tuple(where[: ints[-1] + 1]), result.remap))
        paths |= added
        result = Partial()
        pruned = prune(value, paths, (section,), result.remap)
        try:
            result.value = adapter(section).validate_python(pruned)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            continue
        root = {section: value}
        for path in paths:
            item = _item(root, path)
            if isinstance(item, dict):
                result.ghosts |= {str(item[k]) for k in ("id", "name") if k in item}
        return result
    return None
