"""A plain API reference page built from the OpenAPI schema (no CDN assets: the CSP forbids
them), at /docs and /api/docs; the schema itself is /api/v1/openapi.json."""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()
_METHODS = ("get", "post", "put", "patch", "delete")


@router.get("/docs", include_in_schema=False)
@router.get("/api/docs", include_in_schema=False)
async def docs(request: Request) -> HTMLResponse:
    schema: dict[str, Any] = request.app.openapi()
    rows = []
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is not None:
                rows.append(f"<tr><td>{method.upper()}</td><td><code>{escape(path)}</code></td>"
                            f"<td>{escape(op.get('summary', ''))}</td>"
                            f"<td>{escape(', '.join(op.get('tags', [])))}</td></tr>")
    info = schema.get("info", {})
    page = (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{escape(info.get('title', 'API'))}</title></head><body>"
        f"<h1>{escape(info.get('title', 'API'))} {escape(str(info.get('version', '')))}</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        "<p>Schema: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>. "
        "Live feed: <code>/ws/live</code> (token as <code>?token=</code> or subprotocol "
        "<code>bearer.&lt;token&gt;</code> beside <code>ioc.v1</code>). Wall: "
        "<code>/wall#token=...</code>.</p>"
        "<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Tags</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></body></html>")
    return HTMLResponse(page)
