"""The committed dashboard JSON: regenerated identically, well formed, one dark screen each."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from ioc.cli import main
from ioc.grafana import generate
from ioc.grafana.cli import load_inventory
from ioc.grafana.dashboards import PLAYLIST
from ioc.grafana.model import (
    DATASOURCE_TYPE,
    DATASOURCE_UID,
    GRID_COLUMNS,
    SCHEMA_VERSION,
    SCREEN_ROWS,
    Panel,
    Row,
    layout,
)
from ioc.settings import PROJECT_ROOT

from .harness import load_dashboards

DASHBOARDS = load_dashboards()
PROVISIONING = PROJECT_ROOT / "grafana" / "provisioning"


def test_committed_json_equals_regeneration() -> None:
    stale = generate.differences(load_inventory())
    assert stale == [], f"run `ioc grafana generate` and commit: {stale}"


def test_regeneration_detects_an_edited_file(tmp_path: Any) -> None:
    inv = load_inventory()
    generate.write(inv, tmp_path)
    assert generate.differences(inv, tmp_path) == []
    path = next(tmp_path.glob("*.json"))
    path.write_text(path.read_text().replace('"schemaVersion"', '"schemaversion"'))
    (tmp_path / "stray.json").write_text("{}")
    assert generate.differences(inv, tmp_path) == sorted([path.name, "stray.json"])


def _cells(panel: dict[str, Any]) -> set[tuple[int, int]]:
    g = panel["gridPos"]
    return {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_dashboard_is_one_screen_on_the_grid(uid: str) -> None:
    model = DASHBOARDS[uid]
    panels = model["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    seen: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["w"] > 0 and g["x"] + g["w"] <= GRID_COLUMNS, p["title"]
        assert g["y"] + g["h"] <= SCREEN_ROWS, f"{p['title']} needs scrolling"
        cells = _cells(p)
        assert not cells & seen, f"{p['title']} overlaps another panel"
        seen |= cells


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_dashboard_header(uid: str) -> None:
    model = DASHBOARDS[uid]
    assert model["schemaVersion"] == SCHEMA_VERSION
    assert len(uid) <= 40 and uid.startswith("ioc-")
    assert model["style"] == "dark" and model["refresh"] and model["time"]["to"] == "now"
    assert model["title"] and not model["title"].isascii(), "titles are Vietnamese"
    assert model["editable"] is False


def _datasources(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node["datasource"]] if isinstance(node.get("datasource"), dict) else []
        return found + [d for v in node.values() for d in _datasources(v)]
    if isinstance(node, list):
        return [d for v in node for d in _datasources(v)]
    return []


@pytest.mark.parametrize("uid", sorted(DASHBOARDS))
def test_every_data_source_is_the_provisioned_one(uid: str) -> None:
    provisioned = yaml.safe_load((PROVISIONING / "datasources" / "timescaledb.yaml").read_text())
    (ds,) = provisioned["datasources"]
    refs = [d for d in _datasources(DASHBOARDS[uid]) if d.get("type") != "grafana"]
    assert refs and all(d == {"type": ds["type"], "uid": ds["uid"]} for d in refs)
    assert (ds["uid"], ds["type"]) == (DATASOURCE_UID, DATASOURCE_TYPE)


def test_provisioned_data_source_is_timescaledb_with_password_from_environment() -> None:
    (ds,) = yaml.safe_load((PROVISIONING / "datasources" / "timescaledb.yaml").read_text())[
        "datasources"]
    assert ds["jsonData"]["timescaledb"] is True
    assert ds["jsonData"]["database"] and "database" not in ds
    assert ds["user"] == "ioc_grafana"
    assert ds["secureJsonData"]["password"].startswith("$__env{")
    assert ds["editable"] is False


def test_dashboard_provider_reads_the_generated_files() -> None:
    (provider,) = yaml.safe_load((PROVISIONING / "dashboards" / "ioc.yaml").read_text())[
        "providers"]
    assert provider["type"] == "file" and provider["allowUiUpdates"] is False
    assert provider["options"]["path"]


def test_playlist_names_existing_dashboards() -> None:
    assert PLAYLIST and set(PLAYLIST) <= set(DASHBOARDS)


def test_readme_gives_a_kiosk_url_for_every_dashboard() -> None:
    readme = (PROJECT_ROOT / "grafana" / "README.md").read_text()
    for uid in DASHBOARDS:
        assert f"/d/{uid}?orgId=1&kiosk" in readme, uid


def test_layout_refuses_a_row_wider_than_the_grid() -> None:
    wide = Panel("text", "x", (), 13)
    with pytest.raises(ValueError, match="25 columns"):
        layout([Row(4, (wide, Panel("text", "y", (), 12)))])


def test_generate_check_passes_on_the_committed_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grafana", "generate", "--check"]) == 0
    assert capsys.readouterr().err == ""


def test_generate_refuses_a_broken_config_and_writes_nothing(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "province.yaml").write_text("province:\n  name: [unclosed\n")
    before = {p.name: p.read_text() for p in generate.DASHBOARD_DIR.glob("*.json")}
    assert main(["grafana", "generate", "--config-dir", str(tmp_path)]) == 2
    assert "province.yaml" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in generate.DASHBOARD_DIR.glob("*.json")} == before
