"""One-click acknowledgement from a notification: `/api/v1/alerts/ack/{token}`.

The signed token is the credential (no bearer). GET only shows a confirmation page, because
mail scanners and chat previews fetch links on their own; the button POSTs to the same URL.
Invalid tokens count as failed authentications for the rate limit; valid ones are always
served.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse

from alerts.ack import acknowledge_link, verify
from ioc.api.auth import client_address
from ioc.api.csp import CSP_FORMS
from ioc.api.deps import Svc
from ioc.api.sources import tuple_rows

router = APIRouter()
Token = Annotated[str, Path(max_length=500)]
PATH = "/api/v1/alerts/ack/{token}"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>{body}"
            "</body></html>")
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP_FORMS})


def _check(request: Request, svc: Svc, token: str) -> None:
    """Serve a valid link whoever sends it; count a forged or malformed one against its sender
    (404, or 429 while the sender is locked out)."""
    outcome, _, _ = verify(token, svc.settings.secret_key, svc.clock())
    if outcome == "invalid":
        raise svc.auth.failure(client_address(request), None,
                               "Liên kết không hợp lệ. / Invalid link.", status=404).http()


@router.get(PATH, response_class=HTMLResponse, tags=["alerts"],
            summary="Confirmation page of a one-click acknowledgement link")
async def confirm(request: Request, svc: Svc, token: Token) -> HTMLResponse:
    _check(request, svc, token)
    return _page("Xác nhận cảnh báo / Acknowledge alert",
                 "<form method=\"post\"><button type=\"submit\">Xác nhận / Acknowledge"
                 "</button></form>")


@router.post(PATH, response_class=HTMLResponse, tags=["alerts"],
             summary="Acknowledge through a signed one-click link")
async def acknowledge(request: Request, svc: Svc, token: Token) -> HTMLResponse:
    _check(request, svc, token)
    async with svc.db.connection() as conn, tuple_rows(conn):
        result = await acknowledge_link(conn, token, svc.settings.secret_key, svc.clock())
    status = 200 if result.outcome in ("acked", "already_acked") else 409
    return _page(result.message, f"<p>{escape(result.fingerprint)}</p>", status)
