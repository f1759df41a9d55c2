"""Channels: configured destinations of notifications (webhook, e-mail, Telegram, Alertmanager)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from ioc.config.types import HttpUrl, Language, Model, PositiveDuration, Slug, fail

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        fail(f"'{value}' is not an e-mail address", "write name@example.gov.vn")
    return value


Email = Annotated[str, AfterValidator(_email)]
"""An e-mail address (checked loosely: something@domain.tld)."""


class ChannelBase(Model):
    """Fields every channel has."""

    name: Slug = Field(description="Unique channel name, used by routes, escalation and report.")
    language: Language = Field(default="vi", description="Language of the messages (vi/en).")
    enabled: bool = Field(default=True, description="false: notifications to this channel are "
                          "recorded as skipped (never silently dropped) and not sent.")
    timeout: PositiveDuration = Field(default=timedelta(seconds=10),
                                      description="Limit for one delivery attempt (10s).")


class WebhookChannel(ChannelBase):
    """POST of a JSON payload, signed with HMAC-SHA256 when a secret is set."""

    kind: Literal["webhook"] = Field(description="`webhook`.")
    url: HttpUrl = Field(description="Receiver URL.")
    hmac_secret: SecretStr | None = Field(
        default=None, description="Key of the X-IOC-Signature HMAC-SHA256 header (secret).")
    headers: dict[str, SecretStr] = Field(default_factory=dict,
                                          description="Extra request headers (secret values).")


class EmailChannel(ChannelBase):
    """E-mail through an SMTP server."""

    kind: Literal["email"] = Field(description="`email`.")
    host: str = Field(min_length=1, description="SMTP server host.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port (587).")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (465) or none (local relay).")
    username: str | None = Field(default=None, description="SMTP login, if needed.")
    password: SecretStr | None = Field(default=None, description="SMTP password (secret).")
    from_: Email = Field(alias="from", description="Sender address.")
    to: tuple[Email, ...] = Field(default=(), description="Recipients of alert e-mails "
                                  "(the report has its own recipients).")

    @model_validator(mode="after")
    def _login_pair(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            fail("username and password go together", "set both or neither")
        return self


class TelegramChannel(ChannelBase):
    """A message from a Telegram bot to a chat or group."""

    kind: Literal["telegram"] = Field(description="`telegram`.")
    bot_token: SecretStr = Field(description="Bot token from @BotFather (secret).")
    chat_id: str = Field(min_length=1, description="Chat or group id (groups are negative).")
    api_base_url: HttpUrl = Field(default="https://api.telegram.org",
                                  description="Bot API base URL (a local stub in tests).")

    @model_validator(mode="after")
    def _token_when_enabled(self) -> TelegramChannel:
        if self.enabled and not self.bot_token.get_secret_value():
            fail("bot_token is empty", "set the token, or enabled: false")
        return self


class AlertmanagerChannel(ChannelBase):
    """Forwarding to an existing Prometheus Alertmanager (its v2 API)."""

    kind: Literal["alertmanager"] = Field(description="`alertmanager`.")
    url: HttpUrl = Field(description="Alertmanager base URL; alerts go to /api/v2/alerts.")
    username: str | None = Field(default=None, description="Basic-auth user, if needed.")
    password: SecretStr | None = Field(default=None, description="Basic-auth password (secret).")


Channel = Annotated[
    WebhookChannel | EmailChannel | TelegramChannel | AlertmanagerChannel,
    Field(discriminator="kind"),
]
"""Any channel, chosen by its `kind`."""
