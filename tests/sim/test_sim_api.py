"""The portal's public page, catalogue and search; synthetic submissions; bad input refused."""

from __future__ import annotations

from datetime import datetime

import aiohttp

from sim import run_province
from sim.calendar import VN_TZ
from tests.sim.helpers import get_json, options


async def test_public_page_catalogue_and_accent_insensitive_search() -> None:
    async with run_province(options(backfill_days=0.5)) as province, \
            aiohttp.ClientSession() as http:
        portal = province.urls["portal"]
        async with http.get(portal + "/") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            page = await resp.text()
        assert "Cổng Dịch vụ công tỉnh Sơn Hà" in page and "Đăng ký khai sinh" in page
        procedures = (await get_json(http, portal + "/api/procedures"))["items"]
        agencies = {a["code"]: a for a in (await get_json(http, portal + "/api/agencies"))["items"]}
        assert len(procedures) >= 30
        assert {p["level"] for p in procedures} == {"full", "partial"}
        for p in procedures:
            assert p["deadline_days"] >= 1 and p["fee"] >= 0
            if p["agency_code"] is None:
                assert p["agency_kind"] == "commune"
            else:
                assert agencies[p["agency_code"]]["kind"] == "department"
        for query in ("khai sinh", "KHAI SINH", "khai sính"):
            found = await get_json(http, portal + "/api/search", q=query)
            assert "Đăng ký khai sinh" in [p["name"] for p in found["items"]]
        found = await get_json(http, portal + "/api/search", q="giấy phép lái xe")
        assert [p["code"] for p in found["items"]] == ["1.002804"]
        async with http.get(portal + "/api/search") as resp:
            assert resp.status == 400


async def test_synthetic_records_are_created_tagged_and_bad_input_refused() -> None:
    async with run_province(options(backfill_days=0.5)) as province, \
            aiohttp.ClientSession() as http:
        portal, payments = province.urls["portal"], province.urls["payments"]
        async with http.post(portal + "/api/dossiers",
                             json={"procedure_code": "2.001417", "channel": 1}) as resp:
            assert resp.status == 201
            created = await resp.json()
        assert created["synthetic"] is True and created["status"] == 2
        assert created["agency_code"] == "000.00.10.H99"
        fetched = await get_json(http, f"{portal}/api/dossiers/{created['code']}")
        assert fetched == created
        async with http.post(payments + "/api/payments",
                             json={"amount": 25_000, "intermediary": "momo"}) as resp:
            assert resp.status in (201, 402)
            tx = await resp.json()
        assert tx["synthetic"] is True and tx["intermediary"] == "momo"
        assert (tx["status"] == "success") == (resp.status == 201)
        for url, body, message in [
            (portal + "/api/dossiers", {"procedure_code": "9.999"}, "procedure_code"),
            (portal + "/api/dossiers", {"procedure_code": "1.001193", "channel": 4}, "channel"),
            (portal + "/api/dossiers", [1], "JSON object"),
            (payments + "/api/payments", {"amount": -5}, "amount"),
            (payments + "/api/payments", {"amount": 5, "intermediary": "cash"}, "intermediary"),
            (province.control_url + "/clock", {"speed": -1}, "speed"),
        ]:
            async with http.post(url, json=body) as resp:
                assert resp.status == 400, url
                assert message in (await resp.json())["error"]
        async with http.post(portal + "/api/dossiers", data=b"{not json") as resp:
            assert resp.status == 400
        async with http.get(portal + "/api/stats", params={"from": "2025-03-01T00:00:00"}) as r:
            assert r.status == 400 and "time zone" in (await r.json())["error"]
        async with http.get(payments + "/api/reconciliation/10-03-2025") as resp:
            assert resp.status == 400
        stats = await get_json(http, portal + "/api/stats")  # default: local midnight to now
        midnight = datetime(2025, 3, 12, tzinfo=VN_TZ)
        assert stats["from"] == "2025-03-11T17:00:00Z"
        assert stats["received"] == len(province.model.dossiers_between(
            midnight, province.model.now)) > 0
