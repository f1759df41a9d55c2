"""Load the config directory: read every YAML file, merge the sections, validate, cross-check."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from ioc.config.issues import ConfigError, ConfigIssue, sort_key
from ioc.config.locate import Loc, Sources, did_you_mean, issue_at, show
from ioc.config.model import LIST_SECTIONS, SECTIONS, ProvinceConfig
from ioc.config.partial import partial, to_original
from ioc.config.references import check_references
from ioc.config.source import Document, read_document
from ioc.config.translate import translate

log = logging.getLogger(__name__)

REQUIRED_SECTIONS = frozenset({"province"})


@dataclass
class CheckResult:
    """The outcome of checking a config directory: a config when there are no errors."""

    config: ProvinceConfig | None
    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)
    digest: str = ""
    """SHA-256 over the files' names and contents (to see whether a reload changes anything)."""


def config_files(directory: Path) -> list[Path]:
    """The files that make up the config: every *.yaml and *.yml directly in the directory."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def digest_of(files: list[Path]) -> str:
    """A fingerprint of the files' names and contents."""
    sha = hashlib.sha256()
    for file in files:
        sha.update(file.name.encode() + b"\0")
        sha.update(file.read_bytes() + b"\0")
    return sha.hexdigest()


def check_config(directory: Path, env: Mapping[str, str] | None = None) -> CheckResult:
    """Read, validate and cross-check the config directory; never raises for bad config."""
    env = os.environ if env is None else env
    if not directory.is_dir():
        return CheckResult(None, [ConfigIssue(directory, 0, 0, "", "not a directory",
                                              "give the config directory, e.g. ./config")])
    files = config_files(directory)
    if not files:
        return CheckResult(None, [ConfigIssue(directory, 0, 0, "", "no *.yaml files",
                                              "copy the example from config/ in the project")])
    docs = [read_document(file, env) for file in files]
    read_issues = [issue for doc in docs for issue in _source_issues(doc)]
    issues: list[ConfigIssue] = []
    sources = _merge(docs, issues, directory)
    checked = _validate(sources, issues)
    model = ProvinceConfig.model_construct(**checked.validated)
    problems = check_references(
        model, checked.valid, lambda loc: _where(sources, to_original(loc, checked.remap)))
    issues += [
        issue_at(sources, to_original(p.loc, checked.remap), p.message, p.hint, level=p.level)
        for p in problems if p.name is None or p.name not in checked.ghosts
    ]
    secrets = set().union(*(doc.secrets for doc in docs))
    issues = read_issues + _drop_repeats(issues, read_issues)
    issues = sorted((i.masked(secrets) for i in issues), key=sort_key)
    errors = [i for i in issues if i.level == "error"]
    warnings = [i for i in issues if i.level == "warning"]
    config = None if errors else model
    return CheckResult(config, errors, warnings, digest_of(files))


def load_config(path: Path, env: Mapping[str, str] | None = None) -> ProvinceConfig:
    """Load the province config from a directory, or raise ConfigError listing every problem.

    `env` supplies `${VAR}` values (default: the process environment). Warnings are logged.
    """
    result = check_config(path, env)
    if result.config is None:
        raise ConfigError(result.errors)
    for warning in result.warnings:
        log.warning("config: %s", warning)
    return result.config


def _source_issues(doc: Document) -> list[ConfigIssue]:
    return [
        ConfigIssue(p.mark.file, p.mark.line, p.mark.column, show(p.path), p.message,
                    p.hint)
        for p in doc.problems
    ]


def _merge(docs: list[Document], issues: list[ConfigIssue], directory: Path) -> Sources:
    """Put every file's sections together; list sections concatenate, others appear once."""
    sources = Sources(directory=directory)
    for doc in docs:
        if doc.data is None:
            continue
        if not isinstance(doc.data, dict):
            issues.append(ConfigIssue(doc.file, 1, 1, "", "the file must be a mapping of "
                                      "sections", "start with e.g. targets: or province:"))
            continue
        for section, value in doc.data.items():
            _add_section(sources, doc, section, value, issues)
    for section in sorted(REQUIRED_SECTIONS - sources.data.keys()):
        issues.append(ConfigIssue(directory, 0, 0, section, "required section is missing",
                                  f"add {section}: to {section}.yaml"))
    return sources


def _add_section(sources: Sources, doc: Document, section: str, value: Any,
                 issues: list[ConfigIssue]) -> None:
    key = doc.keys[(section,)]
    if section not in SECTIONS:
        issues.append(ConfigIssue(doc.file, key.line, key.column, section,
                                  f"unknown section '{section}'",
                                  did_you_mean(section, list(SECTIONS)) + "sections are: "
                                  + ", ".join(SECTIONS)))
    elif section in LIST_SECTIONS and isinstance(value, list):
        merged = sources.data.setdefault(section, [])
        sources.segments.setdefault(section, []).append((doc, len(merged), len(value)))
        merged.extend(value)
    elif section in sources.data:
        first = sources.owner.get(section) or sources.segments[section][0][0]
        issues.append(ConfigIssue(doc.file, key.line, key.column, section,
                                  f"section '{section}' is also defined in {first.file.name}",
                                  "define each section once (only lists may be split)"))
    elif section in LIST_SECTIONS:
        mark = doc.values[(section,)]
        issues.append(ConfigIssue(doc.file, mark.line, mark.column, section,
                                  f"'{section}' must be a list", f"write {section}: and then "
                                  "items starting with '- '"))
    else:
        sources.data[section] = value
        sources.owner[section] = doc


@cache
def _adapter(section: str) -> TypeAdapter[Any]:
    annotation: Any = ProvinceConfig.model_fields[section].annotation
    return TypeAdapter(annotation)


@dataclass
class _Checked:
    """Sections as validated (bad list items left out) for the cross-reference checks."""

    validated: dict[str, Any] = field(default_factory=dict)
    valid: frozenset[str] = frozenset()
    remap: dict[Loc, list[int]] = field(default_factory=dict)
    ghosts: set[str] = field(default_factory=set)


def _validate(sources: Sources, issues: list[ConfigIssue]) -> _Checked:
    """Validate each section on its own, so that one bad section does not hide the others."""
    checked = _Checked()
    broken = set(REQUIRED_SECTIONS - sources.data.keys())
    for section, value in sources.data.items():
        try:
            checked.validated[section] = _adapter(section).validate_python(value)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            issues.extend(translate(sources, error, section) for error in errors)
            rest = partial(section, value, errors, _adapter)
            if rest is None:
                broken.add(section)
                continue
            checked.validated[section] = rest.value
            checked.remap.update(rest.remap)
            checked.ghosts |= rest.ghosts
    checked.valid = frozenset(set(SECTIONS) - broken)
    return checked


def _where(sources: Sources, loc: Loc) -> str:
    doc, mark = sources.mark(loc)
    if doc is None or mark is None:
        return "?"
    return f"{doc.file.name}:{mark.line}"


def _drop_repeats(issues: list[ConfigIssue], read: list[ConfigIssue]) -> list[ConfigIssue]:
    """Leave out issues at a position where reading already failed (e.g. the error an unset
    variable's empty value causes, after the error naming the variable)."""
    taken = {sort_key(issue) for issue in read}
    return [issue for issue in issues if sort_key(issue) not in taken]
