"""Read one YAML file into plain data, remembering where every key and value was written.

PyYAML's own constructor forgets positions, resolves `22:00` as a base-60 integer and `no` as
false, and silently keeps the last of two equal keys. This reader composes the node tree and
builds the data itself: only `true`/`false`, `null`, decimal integers and floats are resolved,
everything else stays text; duplicate keys are errors; `${VAR}` is expanded in text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

Path_ = tuple[str | int, ...]
"""A position inside a document: mapping keys and sequence indexes."""


class Mark(NamedTuple):
    """A 1-based line and column in a file."""

    file: Path
    line: int
    column: int


@dataclass(frozen=True)
class SourceProblem:
    """A problem found while reading a file (syntax, duplicate key, missing variable)."""

    mark: Mark
    path: Path_
    message: str
    hint: str


@dataclass
class Document:
    """The data of one file with the mark of each value and of each mapping key."""

    file: Path
    data: Any
    values: dict[Path_, Mark] = field(default_factory=dict)
    keys: dict[Path_, Mark] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    """Values taken from the environment, to be masked in every error message."""


_STR = "tag:yaml.org,2002:str"
_IMPLICIT = (
    ("tag:yaml.org,2002:bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")),
    ("tag:yaml.org,2002:null", re.compile(r"(?:~|null|Null|NULL|)\Z")),
    ("tag:yaml.org,2002:int", re.compile(r"[-+]?(?:0|[1-9][0-9]*)\Z")),
    ("tag:yaml.org,2002:float",
     re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")),
)


class _Resolve:
    """A small, predictable set of implicit types (YAML 1.2 core-like): everything else is text.

    Replaces PyYAML's resolver, which also knows `yes`/`no`/`on`, base-60 numbers and dates.
    """

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT:
                    if regexp.match(value):
                        return tag
            return _STR
        return "tag:yaml.org,2002:seq" if kind is yaml.SequenceNode else "tag:yaml.org,2002:map"


class _Loader(_Resolve, yaml.SafeLoader):
    """Pure Python: used to describe a syntax error, so the message is the same everywhere."""


class _FastLoader(_Resolve, getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """With libyaml's parser when PyYAML has it (many times faster)."""


_VAR = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _mark(file: Path, mark: yaml.Mark) -> Mark:
    return Mark(file, mark.line + 1, mark.column + 1)


def _compose(text: str) -> yaml.Node | None:
    """The node tree of a single-document YAML text (both loaders are SafeLoaders)."""
    try:
        return yaml.compose(text, Loader=_FastLoader)
    except yaml.MarkedYAMLError:
        return yaml.compose(text, Loader=_Loader)  # raises, in pure Python words


def read_document(file: Path, env: Mapping[str, str]) -> Document:
    """Read `file`; problems are recorded in the document rather than raised."""
    doc = Document(file, None)
    try:
        text = file.read_text(encoding="utf-8")
        node = _compose(text)
    except UnicodeDecodeError as exc:
        doc.problems.append(SourceProblem(
            Mark(file, 1, 1), (), f"file is not UTF-8 ({exc.reason} at byte {exc.start})",
            "save the file as UTF-8 (Vietnamese text needs it)"))
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = _mark(file, mark) if mark else Mark(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        doc.problems.append(SourceProblem(
            where, (), f"YAML syntax error: {problem}",
            "check indentation, and quote text that contains ': ' or starts with a special "
            "character such as { [ * & ! % @"))
        return doc
    if node is not None:
        doc.data = _Builder(doc, env).build(node, ())
    return doc


class _Builder:
    """Turns a composed node tree into dicts, lists and scalars, recording marks."""

    def __init__(self, doc: Document, env: Mapping[str, str]) -> None:
        self.doc = doc
        self.env = env

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.values[path] = _mark(self.doc.file, node.start_mark)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key_mark = _mark(self.doc.file, key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                self._problem(key_mark, path, "a mapping key must be plain text",
                              "write keys as simple words, e.g. interval")
                continue
            key = str(key_node.value)
            if key in result:
                first = self.doc.keys[(*path, key)]
                self._problem(key_mark, (*path, key), f"duplicate key '{key}' (first at line "
                              f"{first.line})", "remove one of the two; YAML keeps only the last")
                continue
            self.doc.keys[(*path, key)] = key_mark
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: yaml.Node, path: Path_) -> Any:
        tag, value = node.tag, str(node.value)
        if tag == _STR:
            return self._expand(value, path)
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() == "true"
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:int":
            return int(value)
        if tag == "tag:yaml.org,2002:float":
            return float(value)
        self._problem(self.doc.values[path], path, f"unsupported YAML tag '{tag}'",
                      "remove the tag; write plain values")
        return value

    def _expand(self, text: str, path: Path_) -> str:
        """Replace `${VAR}` and `${VAR:-default}`; `$$` is a literal `$`."""

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            inner = match.group(1)
            if inner is None:
                return self._bad_var(path, "unterminated '${'", "close it: ${NAME}")
            name, sep, default = inner.partition(":-")
            if not _VAR_NAME.fullmatch(name):
                return self._bad_var(path, f"invalid variable name '{name}' in '${{{inner}}}'",
                                     "write ${NAME} or ${NAME:-default}; write $$ for a "
                                     "literal $")
            if name in self.env:
                value = self.env[name]
                if len(value) >= 4:
                    self.doc.secrets.add(value)
                return value
            if sep:
                return default
            return self._bad_var(path, f"environment variable {name} is not set",
                                 f"export {name}=... or write ${{{name}:-default}}")

        return _VAR.sub(replace, text)

    def _bad_var(self, path: Path_, message: str, hint: str) -> str:
        self._problem(self.doc.values[path], path, message, hint)
        return ""

    def _problem(self, mark: Mark, path: Path_, message: str, hint: str) -> None:
        self.doc.problems.append(SourceProblem(mark, path, message, hint))
