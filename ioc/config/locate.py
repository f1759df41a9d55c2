"""Map a location in the merged config (a pydantic error `loc`) to a file, line and hint.

The walk follows the model types and the data side by side: the types say which elements of a
pydantic `loc` are union tags to skip and which field a key is (its description is the hint);
the data says which file and line hold it.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Tag
from pydantic.fields import FieldInfo

from ioc.config.issues import ConfigIssue
from ioc.config.model import ProvinceConfig
from ioc.config.source import Document, Mark

Loc = tuple[str | int, ...]


@dataclass
class Walk:
    """What a walk along a `loc` found."""

    shown: list[str | int] = field(default_factory=list)
    found: list[str | int] = field(default_factory=list)
    model: type[BaseModel] | None = None
    field: FieldInfo | None = None
    end_type: Any = None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and `| None`."""
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if _is_union(tp):
            members = [m for m in typing.get_args(tp) if m is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def union_tags(tp: Any) -> dict[str, Any]:
    """Tag -> member of a tagged union (a `Tag` annotation or a `kind: Literal[...]` field)."""
    tags: dict[str, Any] = {}
    for member in typing.get_args(_unwrap(tp)):
        if typing.get_origin(member) is typing.Annotated:
            for meta in typing.get_args(member)[1:]:
                if isinstance(meta, Tag):
                    tags[meta.tag] = typing.get_args(member)[0]
            continue
        kind = getattr(member, "model_fields", {}).get("kind")
        if kind is not None:
            for value in typing.get_args(kind.annotation):
                tags[value] = member
    return tags


def _field(model: type[BaseModel], key: str) -> FieldInfo | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _child_type(tp: Any, el: str | int, walk: Walk) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        info = _field(tp, str(el))
        walk.model, walk.field = tp, info
        return info.annotation if info else None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        return args[0]
    if origin is tuple and isinstance(el, int) and el < len(args):
        return args[el]
    if origin is list:
        return args[0]
    if origin is dict:
        return args[1]
    return None


def walk(data: Any, loc: Loc) -> Walk:
    """Follow `loc` through the ProvinceConfig types and the merged data."""
    result = Walk()
    tp: Any = ProvinceConfig
    node: Any = data
    for el in loc:
        tp = _unwrap(tp) if tp is not None else None
        if tp is not None and _is_union(tp):
            tags = union_tags(tp)
            tp = tags.get(str(el))
            if tp is not None or not _has(node, el):
                continue  # a union tag or a member's type name, not a place in the data
        tp = _child_type(tp, el, result) if tp is not None else None
        result.shown.append(el)
        if _has(node, el) and len(result.found) == len(result.shown) - 1:
            node = node[el]
            result.found.append(el)
    result.end_type = tp
    return result


def _has(node: Any, el: str | int) -> bool:
    if isinstance(node, dict):
        return el in node
    return isinstance(node, list) and isinstance(el, int) and 0 <= el < len(node)


@dataclass
class Sources:
    """The merged data of every file and which file each part came from."""

    directory: Path | None = None
    data: dict[str, Any] = field(default_factory=dict)
    owner: dict[str, Document] = field(default_factory=dict)
    segments: dict[str, list[tuple[Document, int, int]]] = field(default_factory=dict)
    """For list sections: (document, first merged index, count) per file."""

    def local(self, loc: Loc) -> tuple[Document | None, Loc]:
        """The document holding `loc` and the location inside that document."""
        if not loc:
            return None, loc
        section = str(loc[0])
        if section in self.segments and len(loc) > 1 and isinstance(loc[1], int):
            for doc, start, count in self.segments[section]:
                if start <= loc[1] < start + count:
                    return doc, (section, loc[1] - start, *loc[2:])
            return None, loc
        if section in self.segments:
            return self.segments[section][0][0], loc
        return self.owner.get(section), loc

    def mark(self, loc: Loc, *, key: bool = False) -> tuple[Document | None, Mark | None]:
        """The mark of the value (or of its key) at `loc`, else of the nearest parent."""
        doc, local = self.local(loc)
        if doc is None:
            return None, None
        if key and local in doc.keys:
            return doc, doc.keys[local]
        while local and local not in doc.values:
            local = local[:-1]
        return doc, doc.values.get(local)


def show(loc: Loc) -> str:
    """`targets[3].conditions[0].body_regex` from a location."""
    text = ""
    for el in loc:
        text += f"[{el}]" if isinstance(el, int) else (f".{el}" if text else str(el))
    return text


def issue_at(sources: Sources, loc: Loc, message: str, hint: str, *,
             key: bool = False, level: str = "error", extra: Loc = ()) -> ConfigIssue:
    """An issue located at `loc` in the merged config (shown with the file's own index)."""
    doc, mark = sources.mark(loc, key=key)
    _, local = sources.local(loc)
    return ConfigIssue(
        file=doc.file if doc else sources.directory, line=mark.line if mark else 0,
        column=mark.column if mark else 0, path=show((*local, *extra)), message=message, hint=hint,
        level="warning" if level == "warning" else "error")


def did_you_mean(word: str, choices: list[str]) -> str:
    """`did you mean 'x'? ` or nothing."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean '{close[0]}'? " if close else ""
