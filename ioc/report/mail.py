"""The report e-mail: a short note in the report's language with the PDF (and the workbook of its
tables) attached, over SMTP."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage

from ioc.config.channels import EmailChannel
from ioc.export import XLSX_MEDIA_TYPE
from ioc.report.store import StoredReport
from ioc.report.texts import texts
from ioc.smtp import connect_smtp

SmtpFactory = Callable[[EmailChannel], smtplib.SMTP]


class ReportMailError(RuntimeError):
    """Sending failed; the message names the server but never a password."""


def build_message(report: StoredReport, channel: EmailChannel, name: str, address: str,
                  title: str | None = None, workbook: bytes | None = None) -> EmailMessage:
    """One e-mail to one leader, with the PDF attached, and the report's tables as an Excel
    workbook when given (ioc.export)."""
    if report.pdf is None:
        raise ValueError("the report has no PDF to attach")
    t = texts(report.language)
    msg = EmailMessage()
    msg["Subject"] = f"{title or t['title']} — {report.period} (v{report.version})"
    msg["From"] = channel.from_
    msg["To"] = address
    msg.set_content(t["mail_body"].format(name=name, week=report.period,
                                          light=t[report.data.get("light", "grey")]))
    msg.add_attachment(report.pdf, maintype="application", subtype="pdf",
                       filename=f"bao-cao-tuan-{report.period}.pdf")
    if workbook is not None:
        maintype, subtype = XLSX_MEDIA_TYPE.split("/")
        msg.add_attachment(workbook, maintype=maintype, subtype=subtype,
                           filename=f"bao-cao-tuan-{report.period}.xlsx")
    return msg


def send_messages(channel: EmailChannel, messages: list[EmailMessage],
                  factory: SmtpFactory = connect_smtp) -> None:
    """Send the messages in one SMTP session."""
    try:
        with factory(channel) as smtp:
            for msg in messages:
                smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise ReportMailError(f"sending the report through {channel.host}:{channel.port} "
                              f"failed: {type(exc).__name__}") from None
