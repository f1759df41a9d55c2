"""The province configuration: YAML files in a directory, loaded into immutable pydantic models.

Entry points: `load_config(dir)` (raises `ConfigError` listing every problem with file, line and
hint), `check_config(dir)` (returns errors and warnings instead), and `ConfigHolder` for live
reload that keeps the last good config. See config/README.md for the files and every field.
"""

from ioc.config.channels import (
    AlertmanagerChannel,
    Channel,
    EmailChannel,
    TelegramChannel,
    WebhookChannel,
)
from ioc.config.conditions import (
    BodyContains,
    BodyRegex,
    Condition,
    JsonPathCondition,
    ResponseTimeBelow,
)
from ioc.config.holder import ConfigHolder, ReloadResult
from ioc.config.issues import ConfigError, ConfigIssue
from ioc.config.jsonpath import JsonPath, JsonPathError
from ioc.config.loader import CheckResult, check_config, load_config
from ioc.config.matchers import Matcher, match_all
from ioc.config.model import ProvinceConfig
from ioc.config.oncall import EscalationPolicy, EscalationStep, OnCall, Override, Person, Rotation
from ioc.config.province import Calendar, Province, Retention, Slo, SystemConfig, Systems
from ioc.config.routing import Route, Routing
from ioc.config.rules import (
    AbsenceRule,
    BurnRateRule,
    BurnWindow,
    DownRule,
    InhibitRule,
    KpiBelowRule,
    ReconBreaksRule,
    Rule,
    Selector,
    SqlRule,
    SystemDownRule,
    ThresholdRule,
)
from ioc.config.schedule import (
    MaintenanceWindow,
    OneOffWindow,
    Recipient,
    RecurringWindow,
    Report,
)
from ioc.config.targets import (
    HttpTarget,
    JsonMapping,
    JsonTarget,
    PrometheusTarget,
    PushTarget,
    RecordsTarget,
    SqlTarget,
    Target,
    TargetBase,
    TlsCheck,
)
from ioc.config.types import SYSTEMS, format_duration, parse_duration, parse_percent

__all__ = [
    "SYSTEMS",
    "AbsenceRule",
    "AlertmanagerChannel",
    "BodyContains",
    "BodyRegex",
    "BurnRateRule",
    "BurnWindow",
    "Calendar",
    "Channel",
    "CheckResult",
    "Condition",
    "ConfigError",
    "ConfigHolder",
    "ConfigIssue",
    "DownRule",
    "EmailChannel",
    "EscalationPolicy",
    "EscalationStep",
    "HttpTarget",
    "InhibitRule",
    "JsonMapping",
    "JsonPath",
    "JsonPathCondition",
    "JsonPathError",
    "JsonTarget",
    "KpiBelowRule",
    "MaintenanceWindow",
    "Matcher",
    "OnCall",
    "OneOffWindow",
    "Override",
    "Person",
    "PrometheusTarget",
    "Province",
    "ProvinceConfig",
    "PushTarget",
    "Recipient",
    "ReconBreaksRule",
    "RecordsTarget",
    "RecurringWindow",
    "ReloadResult",
    "Report",
    "ResponseTimeBelow",
    "Retention",
    "Rotation",
    "Route",
    "Routing",
    "Rule",
    "Selector",
    "Slo",
    "SqlRule",
    "SqlTarget",
    "SystemConfig",
    "SystemDownRule",
    "Systems",
    "Target",
    "TargetBase",
    "TelegramChannel",
    "ThresholdRule",
    "TlsCheck",
    "WebhookChannel",
    "check_config",
    "format_duration",
    "load_config",
    "match_all",
    "parse_duration",
    "parse_percent",
]
