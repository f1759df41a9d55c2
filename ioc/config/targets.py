"""What the collectors watch: one target per probe, poll, scrape, query, push source or sync."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from ioc.config.conditions import Condition
from ioc.config.jsonpath import JsonPath, JsonPathError
from ioc.config.types import (
    Duration,
    HttpUrl,
    LabelName,
    Labels,
    MetricName,
    Model,
    PositiveDuration,
    Slug,
    SystemName,
    check_select,
    fail,
    format_duration,
)

_STATUS = re.compile(r"([1-5])xx|([1-5]\d\d)(?:-([1-5]\d\d))?")


class TargetBase(Model):
    """Fields every target has."""

    id: Slug = Field(description="Unique id of the target, e.g. `portal-health`; stored in "
                     "the database, so renaming starts a new history.")
    system: SystemName = Field(description="Which monitored system this target belongs to.")
    name: str = Field(min_length=1, description="Display name (Vietnamese), shown on the wall.")
    interval: PositiveDuration = Field(
        default=timedelta(seconds=30), description="How often to collect (default 30s).")
    timeout: PositiveDuration = Field(
        default=timedelta(seconds=10),
        description="Hard limit for one collection; must be shorter than the interval "
        "(default 10s).")
    jitter: Duration | None = Field(
        default=None, description="Random delay added to each run so targets do not fire "
        "together; default a tenth of the interval. Must be shorter than the interval.")
    labels: Labels = Field(default_factory=dict,
                           description="Extra labels on every sample and alert of this target.")
    enabled: bool = Field(default=True, description="false keeps the target in config but "
                          "stops collecting it (shown as disabled, never silently dropped).")

    @field_validator("timeout")
    @classmethod
    def _timeout_below_interval(cls, value: timedelta, info: ValidationInfo) -> timedelta:
        interval = info.data.get("interval")
        if interval is not None and value >= interval:
            fail(f"timeout {format_duration(value)} must be shorter than interval "
                 f"{format_duration(interval)}",
                 "lower the timeout or raise the interval")
        return value

    @field_validator("jitter")
    @classmethod
    def _jitter_below_interval(cls, value: timedelta | None,
                               info: ValidationInfo) -> timedelta | None:
        interval = info.data.get("interval")
        if value is not None and interval is not None and value >= interval:
            fail(f"jitter {format_duration(value)} must be shorter than interval "
                 f"{format_duration(interval)}",
                 "lower the jitter")
        return value

    @property
    def effective_jitter(self) -> timedelta:
        """The jitter to apply: as configured, else a tenth of the interval."""
        return self.jitter if self.jitter is not None else self.interval / 10


def _status_codes(value: Any) -> Any:
    """Normalise expected statuses (`200`, `"2xx"`, `"200-204"`) into (low, high) pairs."""
    items = value if isinstance(value, list) else [value]
    pairs = []
    for item in items:
        match = _STATUS.fullmatch(str(item).strip())
        if match is None:
            fail(f"invalid status '{item}'", "write 200, \"2xx\" or \"200-204\"")
        if match.group(1):
            low = int(match.group(1)) * 100
            pairs.append((low, low + 99))
        else:
            low = int(match.group(2))
            pairs.append((low, int(match.group(3) or low)))
    return pairs


class TlsCheck(Model):
    """TLS settings of an https probe."""

    verify: bool = Field(default=True, description="Verify the certificate chain and host "
                         "name (default true).")
    min_cert_days: int | None = Field(
        default=None, ge=0, description="Fail when the certificate expires in fewer days.")


class HttpTarget(TargetBase):
    """An HTTP probe: status, latency breakdown, body/JSON conditions, certificate expiry."""

    kind: Literal["http"] = Field(description="`http`: an HTTP(S) probe.")
    url: HttpUrl = Field(description="URL to request.")
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = Field(
        default="GET", description="HTTP method (default GET).")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict, description="Request headers; values are treated as secrets "
        "(e.g. Authorization: Bearer ${PORTAL_TOKEN}) and never logged.")
    body: str | dict[str, Any] | None = Field(
        default=None, description="Request body: text, or a mapping sent as JSON.")
    expected_status: tuple[tuple[int, int], ...] = Field(
        default=((200, 299),), description="Accepted status codes: a list of 200, \"2xx\" or "
        "\"200-204\" (default 2xx).")
    conditions: tuple[Condition, ...] = Field(
        default=(), description="Further conditions on the response (body, JSON, time).")
    tls: TlsCheck = Field(default_factory=TlsCheck, description="TLS checks (https only).")
    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Read at most this many "
                                "bytes of the body; more is an `oversized` failure (1 MiB).")

    @field_validator("expected_status", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        return _status_codes(value)

    @model_validator(mode="after")
    def _tls_needs_https(self) -> HttpTarget:
        if self.tls.min_cert_days is not None and not self.url.lower().startswith("https://"):
            fail("tls.min_cert_days needs an https:// URL", "remove min_cert_days or use https")
        return self

    def status_ok(self, status: int) -> bool:
        """True when the status code is one of the expected ones."""
        return any(low <= status <= high for low, high in self.expected_status)


class JsonMapping(Model):
    """One metric taken from a JSON statistics response."""

    path: str = Field(description="Where the number is, e.g. `received` or "
                      "`by_agency[*].late` (one sample per element).")
    metric: MetricName = Field(description="Metric name to store, e.g. `portal_dossiers_late`.")
    labels: dict[LabelName, str] = Field(
        default_factory=dict, description="Labels taken from sibling fields of the value, "
        "label: field (e.g. `agency: agency_code`); needs `[*]` in the path.")
    static_labels: Labels = Field(default_factory=dict, description="Fixed labels added.")

    @field_validator("path")
    @classmethod
    def _path_parses(cls, value: str) -> str:
        try:
            JsonPath.parse(value)
        except JsonPathError as exc:
            fail(str(exc), "write a dotted path such as received or by_agency[*].late")
        return value

    @model_validator(mode="after")
    def _labels_need_wildcard(self) -> JsonMapping:
        if self.labels and not self.json_path.has_wildcard:
            fail(f"labels from sibling fields need a [*] in the path '{self.path}'",
                 "use static_labels for fixed labels, or a path like by_agency[*].late")
        return self

    @cached_property
    def json_path(self) -> JsonPath:
        """The parsed path."""
        return JsonPath.parse(self.path)


_WINDOW_FIELDS = {"from", "to"}


class JsonTarget(TargetBase):
    """A JSON statistics poll: fields of the response mapped to metrics."""

    kind: Literal["json"] = Field(description="`json`: poll a statistics API.")
    url: HttpUrl = Field(description="URL to GET.")
    headers: dict[str, SecretStr] = Field(default_factory=dict,
                                          description="Request headers (secret values).")
    params: dict[str, str] = Field(
        default_factory=dict, description="Query parameters; `{from}` and `{to}` are replaced "
        "by the window's bounds in RFC 3339 UTC.")
    window: PositiveDuration | None = Field(
        default=None, description="Length of the [from, to) window ending now (default: the "
        "interval).")
    mappings: tuple[JsonMapping, ...] = Field(min_length=1,
                                              description="Which fields become which metrics.")

    @field_validator("params")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            try:
                names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
            except ValueError as exc:
                fail(f"params.{key}: invalid template '{text}': {exc}",
                     "write {from} or {to}; double braces {{ }} for literal braces")
            unknown = names - _WINDOW_FIELDS
            if unknown:
                fail(f"params.{key}: unknown placeholder {{{sorted(unknown)[0]}}}",
                     "only {from} and {to} are replaced")
        return value

    @property
    def effective_window(self) -> timedelta:
        """The window length: as configured, else the interval."""
        return self.window if self.window is not None else self.interval


class PrometheusTarget(TargetBase):
    """A scrape of a Prometheus text exposition (`/metrics`)."""

    kind: Literal["prometheus"] = Field(description="`prometheus`: scrape /metrics.")
    url: HttpUrl = Field(description="URL of the exposition.")
    metrics: tuple[str, ...] = Field(
        default=("*",), min_length=1,
        description="Allow-list of metric names (globs like `http_request_*`); default all.")
    headers: dict[str, SecretStr] = Field(default_factory=dict,
                                          description="Request headers (secret values).")

    def allows(self, metric: str) -> bool:
        """True when the metric name is on the allow-list."""
        return any(fnmatchcase(metric, glob) for glob in self.metrics)


class SqlTarget(TargetBase):
    """A query against a source system's database; each row becomes a sample."""

    kind: Literal["sql"] = Field(description="`sql`: query a source database.")
    dsn: SecretStr = Field(description="PostgreSQL connection string (secret), e.g. "
                           "${PORTAL_DB_DSN}.")
    query: str = Field(description="A read-only SELECT (or WITH ... SELECT).")
    statement_timeout: PositiveDuration = Field(
        default=timedelta(seconds=5), description="Server-side statement timeout (default 5s).")
    metric: MetricName = Field(description="Metric name of the samples.")
    value_column: str = Field(default="value", description="Column holding the number.")
    label_columns: tuple[str, ...] = Field(default=(), description="Columns that become labels.")

    _read_only = field_validator("query")(check_select)


class PushTarget(TargetBase):
    """A source that pushes samples to the API instead of being polled."""

    kind: Literal["push"] = Field(description="`push`: the system POSTs samples.")
    metrics: tuple[str, ...] = Field(min_length=1, description="Metric names (globs) this "
                                     "system may push; others are refused.")
    token_name: str = Field(min_length=1, description="Name of the API token the system "
                            "presents (created with `ioc tokens create`).")

    def allows(self, metric: str) -> bool:
        """True when the system may push this metric."""
        return any(fnmatchcase(metric, glob) for glob in self.metrics)


RecordType = Literal["dossiers", "transactions", "documents", "reconciliation", "procedures",
                     "agencies"]
_RECORD_SYSTEM: dict[str, SystemName] = {
    "dossiers": "portal", "transactions": "payments", "reconciliation": "payments",
    "documents": "documents", "procedures": "portal", "agencies": "portal",
}


class RecordsTarget(TargetBase):
    """Incremental sync of business records (cursor endpoints) into the IOC database."""

    kind: Literal["records"] = Field(description="`records`: sync business records.")
    url: HttpUrl = Field(description="The endpoint: /api/dossiers, /api/transactions, "
                         "/api/documents, /api/reconciliation (date appended), "
                         "/api/procedures or /api/agencies.")
    record_type: RecordType = Field(description="Which records: dossiers, and the catalogue's "
                                    "procedures and agencies (portal); transactions and "
                                    "reconciliation (payments); documents.")
    page_size: int = Field(default=500, ge=1, le=5000,
                           description="Records per request (`limit`), 1..5000 (default 500).")
    sides: tuple[Literal["intermediary", "treasury"], ...] = Field(
        default=("intermediary", "treasury"),
        description="reconciliation only: which daily files to fetch.")
    lookback: PositiveDuration = Field(
        default=timedelta(days=3), description="reconciliation only: how many past days to "
        "fetch again (late files arrive T+1 or later).")
    headers: dict[str, SecretStr] = Field(default_factory=dict,
                                          description="Request headers (secret values).")

    @model_validator(mode="after")
    def _system_matches(self) -> RecordsTarget:
        expected = _RECORD_SYSTEM[self.record_type]
        if self.system != expected:
            fail(f"record_type {self.record_type} belongs to system {expected}, not "
                 f"{self.system}", f"set system: {expected}")
        return self


Target = Annotated[
    HttpTarget | JsonTarget | PrometheusTarget | SqlTarget | PushTarget | RecordsTarget,
    Field(discriminator="kind"),
]
"""Any target, chosen by its `kind`."""

TARGET_KINDS = ("http", "json", "prometheus", "sql", "push", "records")
