"""``/login`` and ``/logout``: the dashboard's session cookie, set from the API token.

The cookie is HttpOnly (page scripts cannot read it), SameSite=Strict (other sites cannot make
the browser send it) and Secure when the server is reached over https.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trainchain.server.auth import SESSION_COOKIE, session_value
from trainchain.signing import same

SESSION_SECONDS = 7 * 24 * 3600


def router(token: str) -> APIRouter:
    pages = APIRouter(include_in_schema=False)

    @pages.get("/login")
    def login_form() -> HTMLResponse:
        from trainchain.server.dashboard import _page

        return _page("login.html", error=None)

    @pages.post("/login")
    async def login(request: Request) -> Response:
        from trainchain.server.dashboard import _page

        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        given = (form.get("token") or [""])[0].strip()
        if not same(given, token):
            page = _page("login.html", error="wrong token; copy it again from the server")
            page.status_code = 401
            return page
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @pages.post("/logout")
    def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
        return response

    return pages
