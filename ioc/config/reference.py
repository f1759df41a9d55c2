"""The field reference (config/REFERENCE.md), generated from the models' descriptions."""

from __future__ import annotations

import types
import typing
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ioc.config.model import ProvinceConfig
from ioc.config.types import format_duration, parse_percent

_NAMES = {
    typing.Any: "any value", str: "text", int: "integer", float: "number", bool: "true/false",
    date: "date", datetime: "date-time", time: "HH:MM", timedelta: "duration",
    SecretStr: "secret text",
}


def models(root: type[BaseModel] = ProvinceConfig) -> list[type[BaseModel]]:
    """Every model reachable from `root`, in the order a reader meets them."""
    found: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in found:
                found.append(tp)
                for info in tp.model_fields.values():
                    visit(info.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return found


def type_name(tp: Any) -> str:
    """A short, readable name of a field's type."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return _annotated_name(args[0], args[1:])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args if a is not type(None))
    if origin in (tuple, list):
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"mapping of {type_name(args[1])}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return f"[{tp.__name__}](#{tp.__name__.lower()})"
    return _NAMES.get(tp, getattr(tp, "__name__", str(tp)))


def _annotated_name(inner: Any, metadata: typing.Sequence[Any]) -> str:
    if any(getattr(m, "func", None) is parse_percent for m in metadata):
        return "percentage"
    return type_name(inner)


def field_type(info: FieldInfo) -> str:
    """The type name of a field, seeing through validators such as the percentage's."""
    return _annotated_name(info.annotation, info.metadata)


def default_text(info: FieldInfo) -> str:
    """The default as it would be written in YAML, or *required*."""
    if info.default is PydanticUndefined and info.default_factory is None:
        return "*required*"
    value = info.default
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    if value in ({}, ()):
        return "empty"
    if value is None:
        return "unset"
    if isinstance(value, float) and any(
            getattr(m, "func", None) is parse_percent for m in info.metadata):
        return f"`{value * 100:g}%`"
    if isinstance(value, timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, BaseModel):
        return "see type"
    if isinstance(value, tuple) and isinstance(value[0], BaseModel):
        return "see type"
    if isinstance(value, tuple):
        return "`[" + ", ".join(_item(v) for v in value) + "]`"
    return f"`{value}`"


def _item(value: Any) -> str:
    if isinstance(value, tuple):
        return "-".join(str(v) for v in value)
    return str(value)


def render() -> str:
    """The whole reference as Markdown."""
    lines = ["# Config field reference", "",
             "Generated from the models in `ioc/config/` by `ioc config reference`; do not edit.",
             "See README.md for the files, value syntax and cross-checks.", ""]
    for model in models():
        doc = (model.__doc__ or "").strip().splitlines()[0]
        lines += [f"## {model.__name__}", "", doc, "", "| key | type | default | meaning |",
                  "|---|---|---|---|"]
        for name, info in model.model_fields.items():
            desc = (info.description or "").replace("|", "\\|").replace("\n", " ")
            lines.append(f"| `{info.alias or name}` | {field_type(info)} | "
                         f"{default_text(info)} | {desc} |")
        lines.append("")
    return "\n".join(lines)
