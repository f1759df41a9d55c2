"""Secrets from the environment never appear in error reports, logs or reprs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ioc.config import ConfigError, ConfigHolder, WebhookChannel, check_config, load_config

SECRET = "S3cr3t/HMAC-value+7f2a"
TOKEN = "987654:bot-token-value-xyz"

PROVINCE = "province:\n  name: Tỉnh Thử Nghiệm\n  code: T01\n"
CHANNELS = """\
channels:
  - name: hook
    kind: webhook
    url: http://127.0.0.1:18090/hooks
    hmac_secret: ${HOOK_SECRET}
    headers: {Authorization: "Bearer ${HOOK_SECRET}"}
  - name: tg
    kind: telegram
    bot_token: ${TG_TOKEN}
    chat_id: ${TG_TOKEN}
routing:
  channels: [hook, tg]
"""


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_secret_values_are_hidden_in_repr_and_dumps(tmp_path: Path) -> None:
    write(tmp_path, {"province.yaml": PROVINCE, "channels.yaml": CHANNELS})
    config = load_config(tmp_path, env={"HOOK_SECRET": SECRET, "TG_TOKEN": TOKEN})
    hook = config.channel("hook")
    assert isinstance(hook, WebhookChannel) and hook.hmac_secret is not None
    assert hook.hmac_secret.get_secret_value() == SECRET
    for text in (repr(config), str(config), config.model_dump_json()):
        assert SECRET not in text
    # the chat id is not a secret field, but the token's value must not leak through it either
    # in errors; in the model it is what was asked for
    assert config.channel("tg").chat_id == TOKEN  # type: ignore[union-attr]


def test_secret_values_never_appear_in_error_reports(tmp_path: Path) -> None:
    bad = CHANNELS.replace("url: http://127.0.0.1:18090/hooks", "url: ${HOOK_SECRET}")
    bad = bad.replace("chat_id: ${TG_TOKEN}", "chat_id: ${TG_TOKEN}\n    port: ${TG_TOKEN}")
    write(tmp_path, {"province.yaml": PROVINCE, "channels.yaml": bad,
                     "targets.yaml": "targets:\n  - {id: '${HOOK_SECRET}', kind: push, system: "
                                     "portal, name: x, metrics: [a], token_name: t}\n",
                     "report.yaml": "report:\n  channel: hook\n  weekday: ${TG_TOKEN}\n"
                                    "  recipients: [{name: A, email: a@b.vn}]\n"})
    result = check_config(tmp_path, env={"HOOK_SECRET": SECRET, "TG_TOKEN": TOKEN})
    report = "\n".join(str(issue) for issue in result.errors)
    assert "channels[0].url: URL must start with http:// or https://" in report
    assert "targets[0].id: '***' is not a valid id" in report
    assert "channels[1].port: unknown key 'port'" in report
    assert "report.weekday: input should be 'monday', " in report
    assert report.count("got '***'") == 1
    assert SECRET not in report and TOKEN not in report
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, env={"HOOK_SECRET": SECRET, "TG_TOKEN": TOKEN})
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value)


def test_missing_secret_variable_names_the_variable_only(tmp_path: Path) -> None:
    write(tmp_path, {"province.yaml": PROVINCE, "channels.yaml": CHANNELS})
    result = check_config(tmp_path, env={"TG_TOKEN": TOKEN})
    lines = [str(issue).replace(f"{tmp_path}/", "") for issue in result.errors]
    assert lines == [
        "channels.yaml:5:18: channels[0].hmac_secret: environment variable HOOK_SECRET is not "
        "set; hint: export HOOK_SECRET=... or write ${HOOK_SECRET:-default}",
        "channels.yaml:6:30: channels[0].headers.Authorization: environment variable "
        "HOOK_SECRET is not set; hint: export HOOK_SECRET=... or write ${HOOK_SECRET:-default}",
    ]
    assert TOKEN not in "\n".join(lines)


def test_failed_reload_log_does_not_leak_secrets(tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, {"province.yaml": PROVINCE, "channels.yaml": CHANNELS})
    env = {"HOOK_SECRET": SECRET, "TG_TOKEN": TOKEN}
    holder = ConfigHolder(tmp_path, env=env)
    write(tmp_path, {"channels.yaml": CHANNELS.replace("kind: webhook", "kind: webhook\n"
                                                       "    timeout: ${HOOK_SECRET}")})
    with caplog.at_level(logging.INFO, logger="ioc.config"):
        result = holder.reload()
    assert not result.ok
    assert "channels[0].timeout: invalid duration '***'" in caplog.text
    assert SECRET not in caplog.text
