"""Write the generated dashboard JSON under grafana/dashboards/ (committed; a test checks it)."""

from __future__ import annotations

import json
from pathlib import Path

from ioc.grafana.dashboards import build_all
from ioc.grafana.inventory import Inventory
from ioc.grafana.model import Json, render
from ioc.settings import PROJECT_ROOT

DASHBOARD_DIR = PROJECT_ROOT / "grafana" / "dashboards"


def dashboards_json(inv: Inventory) -> dict[str, Json]:
    """File name -> dashboard JSON model, for every dashboard."""
    return {f"{d.uid}.json": render(d) for d in build_all(inv)}


def dump(model: Json) -> str:
    """The stable text form of a dashboard (sorted keys, Vietnamese kept readable)."""
    return json.dumps(model, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def differences(inv: Inventory, directory: Path = DASHBOARD_DIR) -> list[str]:
    """Names of files that regeneration would create, change or delete."""
    wanted = {name: dump(model) for name, model in dashboards_json(inv).items()}
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    changed = [n for n, text in wanted.items()
               if n not in present or (directory / n).read_text(encoding="utf-8") != text]
    return sorted(changed + [n for n in present if n not in wanted])


def write(inv: Inventory, directory: Path = DASHBOARD_DIR) -> list[str]:
    """Write every dashboard file, delete stale ones; return the names that changed."""
    changed = differences(inv, directory)
    directory.mkdir(parents=True, exist_ok=True)
    wanted = dashboards_json(inv)
    for name in changed:
        path = directory / name
        if name in wanted:
            path.write_text(dump(wanted[name]), encoding="utf-8")
        else:
            path.unlink()
    return changed
