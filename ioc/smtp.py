"""Opening an SMTP session as an e-mail channel says: one place for alerts and reports."""

from __future__ import annotations

import smtplib
import ssl

from ioc.config.channels import EmailChannel


def connect_smtp(channel: EmailChannel) -> smtplib.SMTP:
    """An SMTP session (SSL, STARTTLS or plain), logged in when the channel has credentials.

    The caller closes it (`with connect_smtp(c) as smtp:`); a failure while opening closes it here.
    """
    limit = channel.timeout.total_seconds()
    smtp: smtplib.SMTP
    if channel.security == "ssl":
        smtp = smtplib.SMTP_SSL(channel.host, channel.port, timeout=limit,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(channel.host, channel.port, timeout=limit)
    try:
        if channel.security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if channel.username and channel.password is not None:
            smtp.login(channel.username, channel.password.get_secret_value())
    except BaseException:
        smtp.close()
        raise
    return smtp
