"""Rendering of rule labels and annotations (Jinja2 in a sandbox, checked at config load)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ioc.config.rules import RuleBase

log = logging.getLogger(__name__)
_ENV = SandboxedEnvironment(autoescape=False)


@lru_cache(maxsize=4096)
def _compiled(text: str) -> Template:
    return _ENV.from_string(text)


def render(text: str, variables: Mapping[str, Any]) -> str:
    """Render one template; a template that fails at run time yields its source, logged."""
    if "{" not in text:
        return text
    try:
        return _compiled(text).render(**variables)
    except (TemplateError, TypeError, ValueError) as exc:
        log.warning("template %r failed: %s", text, exc)
        return text


def variables(rule: RuleBase, labels: Mapping[str, str], value: float | None, severity: str,
              status: str, started_at: datetime | None) -> dict[str, Any]:
    """The names a template may use (ioc.config.rules.TEMPLATE_VARIABLES)."""
    return {"labels": dict(labels), "value": value, "rule": rule.name, "severity": severity,
            "system": labels.get("system", ""), "status": status,
            "started_at": started_at.isoformat() if started_at else ""}


def rule_labels(rule: RuleBase, series: Mapping[str, str]) -> dict[str, str]:
    """An alert's labels: the series', the rule's (templates over the series) and `rule`."""
    ctx = {"labels": dict(series), "rule": rule.name, "severity": rule.severity,
           "system": series.get("system", ""), "value": None, "status": "",
           "started_at": ""}
    extra = {k: render(v, ctx) for k, v in rule.labels.items()}
    return {**series, **extra, "rule": rule.id}


def render_annotations(rule: RuleBase, variables_: Mapping[str, Any]) -> dict[str, str]:
    """The rule's annotations rendered; `summary` defaults to the rule's name."""
    result = {k: render(v, variables_) for k, v in rule.annotations.items()}
    result.setdefault("summary", rule.name)
    return result
