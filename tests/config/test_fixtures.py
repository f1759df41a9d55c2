"""The example province, the good fixtures and the bad ones with their exact messages."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from ioc.config import (
    ConfigError,
    EmailChannel,
    HttpTarget,
    JsonTarget,
    RecordsTarget,
    SqlTarget,
    TelegramChannel,
    ThresholdRule,
    WebhookChannel,
    check_config,
    load_config,
)

HERE = Path(__file__).parent
EXAMPLE = HERE.parent.parent / "config"
BAD = sorted(p.name for p in (HERE / "bad").iterdir() if p.is_dir())
REQUIRED_CASES = {
    "unknown-key", "bad-duration", "missing-env", "timeout-interval", "duplicate-target",
    "unknown-channel", "unknown-person", "bad-regex", "bad-template", "yaml-syntax",
}


def report_lines(directory: Path, env: dict[str, str]) -> list[str]:
    """Every issue of a directory, with the directory prefix removed from file names."""
    result = check_config(directory, env)
    return [
        str(issue).replace(f"{directory}/", "").replace(str(directory), ".")
        for issue in result.errors + result.warnings
    ]


def test_every_required_bad_case_has_a_fixture() -> None:
    assert REQUIRED_CASES <= set(BAD)


@pytest.mark.parametrize("case", BAD)
def test_bad_fixture_reports_exact_messages(case: str) -> None:
    directory = HERE / "bad" / case
    expected = (directory / "expected.txt").read_text(encoding="utf-8").splitlines()
    assert report_lines(directory, {}) == expected
    with pytest.raises(ConfigError) as caught:
        load_config(directory, env={})
    assert [i.level for i in caught.value.issues] == ["error"] * len(caught.value.issues)
    assert str(caught.value).count("\n") + 1 == len(caught.value.issues)


def test_example_province_loads_without_errors_or_warnings() -> None:
    result = check_config(EXAMPLE, env={})
    assert result.errors == []
    assert [str(w) for w in result.warnings] == []
    config = result.config
    assert config is not None
    assert config.province.name == "Tỉnh Sơn Hà"
    assert {t.system for t in config.targets} == {"portal", "payments", "documents"}
    kinds = {t.kind for t in config.targets}
    assert kinds == {"http", "json", "prometheus", "sql", "push", "records"}
    records = config.targets_of(RecordsTarget)
    assert sorted(r.record_type for r in records) == [
        "agencies", "documents", "dossiers", "procedures", "reconciliation", "transactions"]
    assert {r.kind for r in config.rules} == {
        "threshold", "down", "system_down", "absence", "burn_rate", "kpi_below", "recon_breaks",
        "sql"}
    assert {c.kind for c in config.channels} == {"webhook", "email", "telegram", "alertmanager",
                                              "zalo_oa", "zalo_zns"}


def test_example_targets_point_at_the_simulated_province_by_default() -> None:
    config = load_config(EXAMPLE, env={})
    health = config.target("portal-health")
    assert isinstance(health, HttpTarget)
    assert health.url == "http://127.0.0.1:18081/health"
    assert (health.interval, health.timeout) == (timedelta(seconds=5), timedelta(seconds=3))
    stats = config.target("portal-stats")
    assert isinstance(stats, JsonTarget)
    assert stats.params == {"from": "{from}", "to": "{to}"}
    assert [m.metric for m in stats.mappings][-1] == "portal_agency_dossiers_open_overdue"
    assert not config.target("portal-source-db").enabled
    assert config.targets_of(SqlTarget) == []
    assert [t.id for t in config.targets_of(SqlTarget, enabled_only=False)] == ["portal-source-db"]


def test_example_environment_overrides_urls_and_switches_channels_on() -> None:
    env = {"IOC_SIM_PORTAL_URL": "http://127.0.0.1:28081", "IOC_TELEGRAM_ENABLED": "true",
           "IOC_TELEGRAM_BOT_TOKEN": "123456:telegram-token-value", "IOC_SMTP_PORT": "2525",
           "IOC_SMTP_USERNAME": "ioc", "IOC_SMTP_PASSWORD": "smtp-password-value"}
    config = load_config(EXAMPLE, env=env)
    home = config.target("portal-home")
    assert isinstance(home, HttpTarget) and home.url == "http://127.0.0.1:28081/"
    telegram = config.channel("oncall-telegram")
    assert isinstance(telegram, TelegramChannel)
    assert telegram.enabled
    assert telegram.bot_token.get_secret_value() == "123456:telegram-token-value"
    assert telegram.chat_id == "-1001234567890"
    email = config.channel("oncall-email")
    assert isinstance(email, EmailChannel)
    assert (email.port, email.username) == (2525, "ioc")
    assert email.password is not None and email.password.get_secret_value() == "smtp-password-value"


def test_example_defaults_leave_optional_secrets_unset_and_demo_channels_off() -> None:
    config = load_config(EXAMPLE, env={})
    email = config.channel("oncall-email")
    assert isinstance(email, EmailChannel)
    assert (email.username, email.password, email.security) == (None, None, "none")
    assert not config.channel("oncall-telegram").enabled
    assert not config.channel("central-alertmanager").enabled
    hook = config.channel("ops-webhook")
    assert isinstance(hook, WebhookChannel) and hook.hmac_secret is not None


def test_minimal_fixture_gets_defaults() -> None:
    config = load_config(HERE / "good" / "minimal", env={})
    assert config.province.timezone == "Asia/Ho_Chi_Minh"
    assert config.province.language == "vi"
    assert config.systems.portal.slo.availability == pytest.approx(0.995)
    assert config.retention.raw == timedelta(days=30)
    assert config.retention.rollups == timedelta(days=730)
    assert config.targets == () and config.report is None


def test_split_fixture_concatenates_lists_from_several_files() -> None:
    config = load_config(HERE / "good" / "split", env={"NOTE": "shown"})
    assert [t.id for t in config.targets] == ["payments-health", "portal-health"]
    payments = config.target("payments-health")
    assert payments.jitter == timedelta(milliseconds=500)
    rule = config.rule("down")
    assert isinstance(rule, ThresholdRule)
    assert rule.for_ == timedelta(minutes=1, seconds=30)
    hook = config.channel("hook")
    assert isinstance(hook, WebhookChannel)
    assert hook.headers["X-Note"].get_secret_value() == "costs $5, not shown"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioc.cli", "config", "check", *args],
        capture_output=True, text=True, timeout=60, check=False, cwd=HERE.parent.parent,
    )


def test_cli_check_prints_every_error_and_exits_2() -> None:
    done = run_cli("tests/config/bad/escalation")
    assert done.returncode == 2, done.stderr
    expected = (HERE / "bad" / "escalation" / "expected.txt").read_text().splitlines()
    assert done.stdout.splitlines() == [
        f"tests/config/bad/escalation/{line}" for line in expected]
    assert "4 error(s) in tests/config/bad/escalation" in done.stderr


def test_cli_check_accepts_the_example() -> None:
    done = run_cli("config")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("OK: 22 targets, 13 rules, 8 channels")
