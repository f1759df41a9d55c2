"""Turn pydantic validation errors into config issues with a message and a fix."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from ioc.config.issues import ConfigIssue
from ioc.config.locate import Loc, Sources, Walk, did_you_mean, issue_at, union_tags, walk

_SAFE_INPUT_TYPES = {
    "literal_error", "enum", "int_parsing", "float_parsing", "bool_parsing", "int_type",
    "float_type", "bool_type", "date_from_datetime_parsing", "date_parsing", "time_parsing",
    "datetime_parsing", "datetime_from_date_parsing",
}
"""Errors whose input is shown (masked afterwards like everything else)."""

_SHAPES = {
    "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "dict_type": "expected a mapping (key: value)",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "string_type": "expected text",
}
"""Plain words for "wrong shape" errors."""


def _description(w: Walk) -> str:
    if w.field is not None and w.field.description:
        return w.field.description
    return "see config/README.md"


def _field_hint(w: Walk) -> str:
    names = [el for el in w.shown if isinstance(el, str)]
    return f"{names[-1]}: {_description(w)}" if names and w.field else _description(w)


def _keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def translate(sources: Sources, error: ErrorDetails, section: str) -> ConfigIssue:
    """One pydantic error (of one section's validation) as a located issue."""
    loc: Loc = (section, *error["loc"])
    kind = error["type"]
    w = walk(sources.data, loc)
    at: Loc = tuple(w.found)
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "config":
        return issue_at(sources, at, ctx["message"], ctx["hint"])
    if kind == "extra_forbidden":
        name = str(loc[-1])
        allowed = _keys(w.model)
        hint = did_you_mean(name, allowed) + "allowed keys: " + ", ".join(allowed)
        return issue_at(sources, at, f"unknown key '{name}'", hint, key=True)
    if kind == "missing":
        name = str(w.shown[-1]) if w.shown else section
        return issue_at(sources, at, f"missing required key '{name}'",
                        f"add {name}: {_description(w)}", extra=tuple(w.shown[len(at):]))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _union_tag(sources, w, ctx)
    message = _SHAPES.get(kind) or _lower(error["msg"].removeprefix("Value error, "))
    if kind in _SAFE_INPUT_TYPES or kind in _SHAPES:
        message += f", got {_short(error.get('input'))}"
    return issue_at(sources, at, message, _field_hint(w))


def _union_tag(sources: Sources, w: Walk, ctx: dict[str, Any]) -> ConfigIssue:
    tags = sorted(union_tags(w.end_type)) if w.end_type is not None else []
    expected = ", ".join(tags) or str(ctx.get("expected_tags", ""))
    at: Loc = tuple(w.found)
    if "tag" in ctx:
        tag = str(ctx["tag"])
        return issue_at(sources, (*at, "kind"), f"unknown kind '{tag}'",
                        did_you_mean(tag, tags) + f"kind must be one of: {expected}")
    return issue_at(sources, at, "missing key 'kind'", f"add kind: one of {expected}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
