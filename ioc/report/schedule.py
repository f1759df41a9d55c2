"""Send the weekly report on schedule (Monday 07:00 local by default) to the configured leaders."""

from __future__ import annotations

import logging
import time as time_mod
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as TimeOfDay

import psycopg

from ioc.config.channels import EmailChannel
from ioc.config.holder import ConfigHolder
from ioc.config.model import ProvinceConfig
from ioc.config.types import WEEKDAYS
from ioc.config_sync import ConfigSyncer
from ioc.export import workbook_of_report
from ioc.report import store
from ioc.report.mail import SmtpFactory, build_message, connect_smtp, send_messages
from ioc.report.week import TZ, Week

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    """A report version that was e-mailed."""

    period: str
    version: int
    recipients: tuple[str, ...]


def due_week(now: datetime, weekday: str, at: TimeOfDay) -> tuple[Week, datetime]:
    """The week whose report is due by `now` and the moment it became due.

    The report of week W is due at the first scheduled moment of week W+1.
    """
    local = now.astimezone(TZ)
    monday = local.date() - timedelta(days=local.weekday())
    moment = datetime.combine(monday + timedelta(days=WEEKDAYS.index(weekday)), at, tzinfo=TZ)
    if moment > local:
        moment -= timedelta(days=7)
    return Week.containing(moment).previous(), moment


def _channel(config: ProvinceConfig) -> EmailChannel:
    assert config.report is not None
    channel = config.channel(config.report.channel)
    if not isinstance(channel, EmailChannel):
        raise ValueError(f"report channel {config.report.channel!r} is not an e-mail channel")
    return channel


def send_due_reports(conn: psycopg.Connection, now: datetime, config: ProvinceConfig,
                     smtp: SmtpFactory = connect_smtp) -> list[Sent]:
    """If a weekly report is due and not yet sent: build (or reuse), publish, e-mail it.

    Safe to call often and from several processes: sending is claimed on the stored row.
    """
    settings = config.report
    if settings is None or not settings.enabled:
        return []
    week, moment = due_week(now, settings.weekday, settings.time)
    report = store.latest(conn, week, settings.language)
    if report is not None and report.sent_at is not None:
        return []
    if report is None or report.published_at is None:
        report = store.generate(conn, week, now=now, language=settings.language,
                                title=settings.title,
                                min_dossiers=settings.slowest_min_dossiers)
        store.publish(conn, report.id, now)
    addresses = [r.email for r in settings.recipients]
    if not store.claim_sending(conn, report.id, now, addresses):
        return []
    channel = _channel(config)
    workbook = workbook_of_report(conn, report.data)
    messages = [build_message(report, channel, r.name, r.email, settings.title, workbook)
                for r in settings.recipients]
    try:
        send_messages(channel, messages, smtp)
    except Exception:
        store.release_sending(conn, report.id)
        raise
    log.info("weekly report %s v%d sent to %d recipients (due %s)", report.period,
             report.version, len(addresses), moment.isoformat())
    return [Sent(report.period, report.version, tuple(addresses))]


def run_schedule(conn: psycopg.Connection, holder: ConfigHolder, *, interval_s: float = 60,
                 rounds: int | None = None) -> None:
    """Check every `interval_s` seconds whether a report is due (forever unless `rounds`).

    The config is reloaded each round; its copy in the database (calendar, objectives …)
    follows it (ioc.config_sync).
    """
    syncer = ConfigSyncer(holder, lambda: nullcontext(conn)).attach()
    done = 0
    while rounds is None or done < rounds:
        try:
            holder.reload()
            syncer.ensure()  # the first sync, or a retry of one that failed
            send_due_reports(conn, datetime.now(TZ), holder.config)
        except Exception:  # keep the scheduler alive; the next round retries
            log.exception("weekly report round failed")
        done += 1
        if rounds is None or done < rounds:
            time_mod.sleep(interval_s)
