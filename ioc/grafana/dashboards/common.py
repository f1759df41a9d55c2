"""Pieces every system screen shares: its traffic light, availability, latency, targets."""

from __future__ import annotations

from ioc.grafana import sql
from ioc.grafana.dashboards.alerts import transitions
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import GREEN, RED, YELLOW, Dashboard, Panel, Row, Variable, thresholds
from ioc.grafana.panels import rate_steps, stat, timeseries, traffic_light

LIGHT_HELP = ("Xanh: hoạt động tốt; vàng: chậm hoặc dưới mục tiêu; đỏ: ngừng hoạt động; "
              "xám: không có dữ liệu 5 phút gần nhất")

# Time-range variants of a figure, so a wall reads the same figure over the same window.
RANGE = (sql.FROM, sql.TO)
TODAY = (sql.TODAY, sql.TO)


def light(inv: Inventory, system: str, width: int = 4) -> Panel:
    """The traffic light of one system."""
    return traffic_light(inv.system(system).title, sql.traffic_light(system), width,
                         description=LIGHT_HELP)


def availability_tile(system: str, width: int = 4) -> Panel:
    """Availability of a system over the dashboard's range (maintenance excluded)."""
    return stat("Độ sẵn sàng", f'SELECT {sql.kpi("availability", *RANGE, {"system": system})}'
                ' AS "value"', width, unit="percentunit", decimals=2,
                steps=rate_steps(0.99, 0.995))


def latency_tile(system: str, width: int = 4) -> Panel:
    """The 95th percentile of a system's probe latency over the range, against its objective."""
    value = sql.kpi("latency.p95", *RANGE, {"system": system})
    return stat("Độ trễ p95", f'SELECT {value} AS "value"', width, unit="ms", decimals=0,
                steps=thresholds((None, GREEN), (1000, YELLOW), (2000, RED)))


def target_variable(inv: Inventory, system: str) -> tuple[Variable, ...]:
    """The `target` variable: the system's configured HTTP targets (empty when none)."""
    options = tuple((t.name, t.id) for t in inv.targets_of(system))
    return (Variable("target", "Điểm đo", options),) if options else ()


def latency_by_target(inv: Inventory, system: str, width: int) -> Panel:
    """p95 latency per configured target and step (the `target` variable), from the KPI layer."""
    targets = inv.targets_of(system)
    f: dict[str, object] = {"system": system, "by": "target"}
    if targets:
        names = ", ".join(f"({sql.lit(t.id)}, {sql.lit(t.name)})" for t in targets)
        chart = sql.kpi_series(
            "latency.p95", f, "n.name",
            joins=f"JOIN (VALUES {names}) AS n(id, name) ON n.id = k.labels->>'target'",
            where="k.labels->>'target' IN (${target:sqlstring}) AND k.value IS NOT NULL")
    else:
        chart = sql.kpi_series("latency.p95", f, "k.labels->>'target'",
                               where="k.value IS NOT NULL")
    return kpi_chart("Độ trễ p95 theo điểm đo", chart, width, unit="ms", minimum=0)


def by_system_chart(inv: Inventory, kpi: str) -> str:
    """A technical KPI per system and step, named by the systems' titles."""
    return sql.kpi_series(kpi, {"by": "system"}, "s.title",
                          joins=f"JOIN {sql.systems_values(inv)} ON s.system = k.labels->>'system'",
                          order="s.ord")


def per_step(kpi: str, filter_: dict[str, object], label: str | None) -> str:
    """A KPI per step of the range, one series per value of `label` (or one series)."""
    metric = f"coalesce(k.labels->>{sql.lit(label)}, '?')" if label else sql.lit(kpi)
    return sql.kpi_series(kpi, filter_, metric)


# A KPI chart calls the KPI layer once per step: 60 steps are plenty on a wall and bound the
# cost of a refresh whatever the range (Grafana's interval = range ÷ maxDataPoints, rounded).
KPI_POINTS = 60


def kpi_chart(title: str, chart: str, width: int, unit: str = "short", *,
              minimum: float | None = None, maximum: float | None = None,
              bars: bool = False) -> Panel:
    """A chart of a KPI per step, with the number of steps bounded."""
    return timeseries(title, chart, width, unit=unit, minimum=minimum, maximum=maximum,
                      bars=bars, max_points=KPI_POINTS)


def system_screen(inv: Inventory, system: str, uid: str, title: str, description: str,
                  header: tuple[Panel, ...], rows: tuple[Row, ...]) -> Dashboard:
    """A system's screen: its light and availability first, then `header` tiles, then `rows`;
    the target variable and the system's alert transitions as annotations."""
    return Dashboard(
        uid=uid, title=title, tags=("ioc", "wall", system), description=description,
        variables=target_variable(inv, system), annotations=(transitions(system),),
        rows=(Row(6, (light(inv, system), availability_tile(system), *header)), *rows),
    )
