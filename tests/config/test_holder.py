"""Refuse to start on bad config; on a live reload keep the old config and say why."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from ioc.config import ConfigError, ConfigHolder

HERE = Path(__file__).parent


def copy_of(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(HERE / "good" / name, target)
    return target


def test_holder_refuses_to_start_on_bad_config() -> None:
    with pytest.raises(ConfigError) as caught:
        ConfigHolder(HERE / "bad" / "unknown-key", env={})
    assert [i.path for i in caught.value.issues] == ["targets[0].timout"]


def test_holder_refuses_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        ConfigHolder(tmp_path / "nowhere", env={})
    assert str(caught.value) == (
        f"{tmp_path / 'nowhere'}: not a directory; hint: give the config directory, "
        "e.g. ./config")


def test_reload_keeps_old_config_and_logs_why(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    directory = copy_of("split", tmp_path)
    holder = ConfigHolder(directory, env={})
    before = holder.config
    rules = directory / "rules.yaml"
    rules.write_text(rules.read_text().replace("channels: [hook]\n  routes",
                                               "channels: [hook, pager]\n  routes"))
    with caplog.at_level(logging.ERROR, logger="ioc.config"):
        result = holder.reload()
    assert not result.ok and not result.changed
    assert holder.config is before and result.config is before
    assert [str(e).replace(f"{directory}/", "") for e in result.errors] == [
        "rules.yaml:11:20: routing.channels[1]: unknown channel 'pager' (known: hook); "
        "hint: define it in channels.yaml or fix the name"]
    assert "config reload failed; keeping the config loaded before (1 error(s))" in caplog.text
    assert "unknown channel 'pager'" in caplog.text


def test_reload_switches_to_a_valid_new_config(tmp_path: Path) -> None:
    directory = copy_of("split", tmp_path)
    holder = ConfigHolder(directory, env={})
    digest = holder.digest
    assert holder.reload() == holder.reload()  # nothing changed: nothing to do
    assert not holder.reload().changed
    targets = directory / "targets-payments.yml"
    targets.write_text(targets.read_text().replace("interval: 1m", "interval: 2m"))
    result = holder.reload()
    assert result.ok and result.changed
    assert holder.config.target("payments-health").interval.total_seconds() == 120
    assert holder.digest != digest


def test_reload_after_a_failure_recovers_when_the_file_is_fixed(tmp_path: Path) -> None:
    directory = copy_of("minimal", tmp_path)
    holder = ConfigHolder(directory, env={})
    province = directory / "province.yaml"
    good = province.read_text()
    province.write_text(good.replace("code: T01", "code: T01\n  colour: red"))
    assert not holder.reload().ok
    province.write_text(good.replace("T01", "T02"))
    result = holder.reload()
    assert result.changed and holder.config.province.code == "T02"


def test_forced_reload_rereads_environment(tmp_path: Path) -> None:
    directory = copy_of("split", tmp_path)
    env = {"PORTAL_URL": "http://127.0.0.1:1"}
    holder = ConfigHolder(directory, env=env)
    env["PORTAL_URL"] = "http://127.0.0.1:2"
    assert not holder.reload().changed
    assert holder.reload(force=True).changed
    assert holder.config.target("portal-health").url == "http://127.0.0.1:2/health"  # type: ignore[union-attr]


def test_listeners_hear_each_switch_to_a_new_config_only(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    directory = copy_of("minimal", tmp_path)
    holder = ConfigHolder(directory, env={})
    heard: list[str] = []
    holder.add_listener(lambda config: heard.append(config.province.code))

    def broken(config: object) -> None:
        raise RuntimeError("listener bug")

    holder.add_listener(broken)
    assert not holder.reload().changed                      # unchanged: not called
    province = directory / "province.yaml"
    good = province.read_text()
    province.write_text(good.replace("code: T01", "code: T01\n  colour: red"))
    assert not holder.reload().ok                           # invalid: not called
    assert heard == []
    province.write_text(good.replace("T01", "T02"))
    with caplog.at_level(logging.ERROR, logger="ioc.config"):
        assert holder.reload().changed                      # a failing listener is logged
    assert heard == ["T02"]
    assert "config reload listener failed" in caplog.text and "listener bug" in caplog.text
