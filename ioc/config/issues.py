"""Config problems as people read them: file, line, column, where in the data, what, and a fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in the config directory, pointing at the file and line to change."""

    file: Path | None
    line: int
    column: int
    path: str
    """Where in the data, e.g. `targets[3].timeout` (empty for a whole file)."""
    message: str
    hint: str
    level: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = f"{self.file}:{self.line}:{self.column}: " if self.line else f"{self.file}: "
        what = f"{self.path}: {self.message}" if self.path else self.message
        prefix = "warning: " if self.level == "warning" else ""
        return f"{where}{prefix}{what}; hint: {self.hint}"

    def masked(self, secrets: Iterable[str]) -> ConfigIssue:
        """The same issue with every secret value replaced by `***`."""
        message, hint = self.message, self.hint
        for secret in sorted(secrets, key=len, reverse=True):
            message = message.replace(secret, "***")
            hint = hint.replace(secret, "***")
        return replace(self, message=message, hint=hint)


def sort_key(issue: ConfigIssue) -> tuple[str, int, int]:
    """Order issues by file, line and column."""
    return (str(issue.file or ""), issue.line, issue.column)


class ConfigError(Exception):
    """The config cannot be used; `issues` lists every error found, `str()` is the report."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        super().__init__(self.report())

    def report(self) -> str:
        """One line per issue."""
        return "\n".join(str(issue) for issue in self.issues)

    def __str__(self) -> str:
        return self.report()
