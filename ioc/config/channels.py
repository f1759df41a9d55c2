"""Channels: configured destinations of notifications (webhook, e-mail, Telegram, Alertmanager,
Zalo OA and ZNS)."""

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


_VN_PHONE = re.compile(r"84(?:3|5|7|8|9)\d{8}")


def vn_phone(value: str) -> str | None:
    """A Vietnamese mobile number as Zalo wants it (84xxxxxxxxx), or None when it is not one.

    Accepts the ways people write them: 0912 345 678, 0912.345.678, +84 912 345 678, 84912345678.
    """
    digits = re.sub(r"[\s.()-]", "", value)
    if digits.startswith("+"):
        digits = digits[1:]
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits if _VN_PHONE.fullmatch(digits) else None


def _phone(value: str) -> str:
    found = vn_phone(value)
    if found is None:
        fail(f"'{value}' is not a Vietnamese mobile number",
             "write it as 0912345678 or +84912345678 (10 digits from 03, 05, 07, 08, 09)")
    return found


VnPhone = Annotated[str, AfterValidator(_phone)]
"""A Vietnamese mobile number, normalised to 84xxxxxxxxx."""

ZNS_FIELDS = ("title", "summary", "severity", "status", "value", "since", "system", "rule",
              "ack_url", "count")
"""What a ZNS template parameter can carry (or `labels.<name>`): see alerts/notify/zalo.py."""


def _zns_field(value: str) -> str:
    name, _, label = value.partition(".")
    if value not in ZNS_FIELDS and not (name == "labels" and label):
        fail(f"'{value}' is not an alert field a ZNS parameter can carry",
             f"use one of {', '.join(ZNS_FIELDS)} or labels.<name>")
    return value


class ZaloAuth(ChannelBase):
    """The credentials of a Zalo Official Account's app, shared by both Zalo kinds.

    The OA access token lasts about 25 hours and is renewed with a refresh token that works
    once: the renewed pair is kept (encrypted) in the database, in the token store named
    `token_store`. Channels of the same OA name the same store.
    """

    app_id: str = Field(pattern=r"^[0-9]+$", description="Zalo app id (digits).")
    secret_key: SecretStr = Field(description="The app's secret key (secret).")
    refresh_token: SecretStr = Field(
        description="Refresh token of the OA's authorisation (secret): used once, on first "
        "start, then the store's rotated one; a different value here re-seeds the store.")
    token_store: Slug | None = Field(
        default=None, description="Name of the stored token pair (the channel's name): "
        "channels of one OA share it.")
    oauth_url: HttpUrl = Field(default="https://oauth.zaloapp.com/v4/oa/access_token",
                               description="Token endpoint (a local stub in tests).")

    @property
    def store(self) -> str:
        """The name of this channel's stored token pair."""
        return self.token_store or self.name

    @model_validator(mode="after")
    def _secrets_when_enabled(self) -> ZaloAuth:
        for field in ("secret_key", "refresh_token"):
            if self.enabled and not getattr(self, field).get_secret_value():
                fail(f"{field} is empty", "set it, or enabled: false")
        return self


class ZaloOAChannel(ZaloAuth):
    """Messages of a Zalo Official Account (OA API v3) to followers and groups."""

    kind: Literal["zalo_oa"] = Field(description="`zalo_oa`.")
    user_ids: tuple[Annotated[str, Field(pattern=r"^[0-9]+$")], ...] = Field(
        default=(), description="Followers' user ids (the OA's ids, digits).")
    group_ids: tuple[Annotated[str, Field(min_length=1)], ...] = Field(
        default=(), description="Ids of the OA's groups (GMF).")
    api_base_url: HttpUrl = Field(default="https://openapi.zalo.me",
                                  description="OA API base URL (a local stub in tests).")

    @model_validator(mode="after")
    def _someone(self) -> ZaloOAChannel:
        if not self.user_ids and not self.group_ids:
            fail("a zalo_oa channel needs user_ids or group_ids", "list at least one of them")
        return self


class ZaloZNSChannel(ZaloAuth):
    """Zalo Notification Service: an approved template message to a phone number."""

    kind: Literal["zalo_zns"] = Field(description="`zalo_zns`.")
    template_id: str = Field(pattern=r"^[0-9]+$", description="Approved ZNS template id.")
    params: dict[Annotated[str, Field(min_length=1)],
                 Annotated[str, AfterValidator(_zns_field)]] = Field(
        min_length=1, description="Template parameter -> alert field (title, summary, severity, "
        "status, value, since, system, rule, ack_url, count, labels.<name>).")
    phones: tuple[VnPhone, ...] = Field(
        default=(), description="Phone numbers of the channel's own messages; escalation steps "
        "reach on-call people at their `phone`.")
    param_max_chars: int = Field(default=100, ge=10, le=1000,
                                 description="Longest text put in one parameter (100).")
    api_url: HttpUrl = Field(default="https://business.openapi.zalo.me/message/template",
                             description="ZNS endpoint (a local stub in tests).")


Channel = Annotated[
    WebhookChannel | EmailChannel | TelegramChannel | AlertmanagerChannel | ZaloOAChannel
    | ZaloZNSChannel,
    Field(discriminator="kind"),
]
"""Any channel, chosen by its `kind`."""
