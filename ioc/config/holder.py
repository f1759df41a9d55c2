"""Live reload: keep the last good config; a bad new one is reported and not used."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ioc.config.issues import ConfigError, ConfigIssue
from ioc.config.loader import check_config, config_files, digest_of
from ioc.config.model import ProvinceConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    """What a reload did: `changed` when a new config is now in use, else `errors` say why."""

    changed: bool
    config: ProvinceConfig
    errors: list[ConfigIssue] = field(default_factory=list)
    warnings: list[ConfigIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the files were valid (whether or not anything changed)."""
        return not self.errors


class ConfigHolder:
    """Holds the config in use. Construction raises ConfigError (refuse to start on bad
    config); `reload()` never does: on errors it keeps the old config and logs why."""

    def __init__(self, directory: Path, env: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self._env = env
        self._lock = threading.Lock()
        result = check_config(directory, env)
        if result.config is None:
            raise ConfigError(result.errors)
        for warning in result.warnings:
            log.warning("config: %s", warning)
        self._config = result.config
        self._digest = result.digest
        self._listeners: list[Callable[[ProvinceConfig], object]] = []

    def add_listener(self, callback: Callable[[ProvinceConfig], object]) -> None:
        """Call `callback(config)` after every reload that switches to a new config (in the
        reloading thread; an exception is logged, never raised to the reloader)."""
        self._listeners.append(callback)

    @property
    def config(self) -> ProvinceConfig:
        """The config in use (the last one that loaded without errors)."""
        return self._config

    @property
    def digest(self) -> str:
        """Fingerprint of the files the config in use was loaded from."""
        return self._digest

    def reload(self, *, force: bool = False) -> ReloadResult:
        """Load the directory again; switch only if it is valid and (unless `force`) changed."""
        with self._lock:
            files = config_files(self.directory) if self.directory.is_dir() else []
            if not force and files and digest_of(files) == self._digest:
                return ReloadResult(False, self._config)
            result = check_config(self.directory, self._env)
            if result.config is None:
                log.error("config reload failed; keeping the config loaded before "
                          "(%d error(s)):\n%s", len(result.errors),
                          "\n".join(str(e) for e in result.errors))
                return ReloadResult(False, self._config, result.errors, result.warnings)
            for warning in result.warnings:
                log.warning("config: %s", warning)
            self._config, self._digest = result.config, result.digest
            log.info("config reloaded: %s", result.config.summary())
        for callback in list(self._listeners):
            try:
                callback(result.config)
            except Exception:
                log.exception("config reload listener failed")
        return ReloadResult(True, result.config, [], result.warnings)
