"""The browser faces: the widget's script at /widget/steward.js and the admin console at /admin, served from
the built web/dist (`make web`), and CORS for the widget's calls from the origins admins registered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.access.rules import normalize_origin

# The widget calls only these; everything else (admin, documents) stays same-origin.
WIDGET_PATHS = ("/v1/chat", "/v1/search", "/v1/feedback")
EXPOSED_HEADERS = "Retry-After, X-RateLimit-Reset, X-RateLimit-Limit, X-RateLimit-Remaining"


def _not_built(what: str) -> Response:
    return JSONResponse(
        {"error": {"code": "not_built", "message": f"the {what} is not built: run `make web`"}}, status_code=503
    )


def web_router(dist: Path) -> APIRouter:
    """Routes for the built files. Missing files answer 404; a missing build answers 503 with what to run."""
    router = APIRouter(include_in_schema=False)
    widget, admin = dist / "widget", dist / "admin"

    @router.get("/widget/steward.js")
    def widget_script() -> Response:
        script = widget / "steward.js"
        if not script.is_file():
            return _not_built("widget")
        # Pages embed a stable URL; a short cache lets a new release reach them within minutes.
        return FileResponse(script, media_type="text/javascript", headers={"Cache-Control": "public, max-age=300"})

    @router.get("/admin")
    def admin_root() -> Response:
        return RedirectResponse("/admin/")

    @router.get("/admin/{path:path}")
    def admin_file(path: str) -> Response:
        index = admin / "index.html"
        if not index.is_file():
            return _not_built("admin console")
        target = (admin / path).resolve()
        if path and target.is_file() and target.is_relative_to(admin.resolve()):
            # Vite names assets by content hash: they never change under one name.
            return FileResponse(target, headers={"Cache-Control": "public, max-age=31536000, immutable"})
        if path.startswith("assets/"):
            return JSONResponse({"error": {"code": "not_found", "message": "no such file"}}, status_code=404)
        return FileResponse(index, headers={"Cache-Control": "no-cache", **SECURITY_HEADERS})

    return router


# The console is only ever framed by itself and loads only its own scripts.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class WidgetCors:
    """CORS for the widget: only origins a registered site lists, only the widget's routes, never credentials
    (the widget sends a bearer token, not cookies). Origins are read on every request, so a site's change or
    deletion applies to the next one."""

    def __init__(self, app: ASGIApp, *, origins: Callable[[], set[str]]) -> None:
        self.app = app
        self.origins = origins

    def _allowed(self, scope: Scope) -> str | None:
        path: str = scope.get("path", "")
        if not any(path == p or path.startswith(p + "/") for p in WIDGET_PATHS):
            return None
        origin = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"origin"), None)
        if origin is None:
            return None
        return origin if normalize_origin(origin) in self.origins() else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = self._allowed(scope)
        headers = dict(scope.get("headers", []))
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            if origin is None:
                response: Response = Response(status_code=403)
            else:
                response = Response(
                    status_code=204,
                    headers={
                        "Access-Control-Allow-Origin": origin,
                        "Access-Control-Allow-Methods": "POST, OPTIONS",
                        "Access-Control-Allow-Headers": "Authorization, Content-Type, Accept",
                        "Access-Control-Max-Age": "600",
                        "Vary": "Origin",
                    },
                )
            await response(scope, receive, send)
            return
        if origin is None:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)


def install_web(app: FastAPI, *, dist: Path, origins: Callable[[], set[str]]) -> None:
    app.include_router(web_router(dist))
    app.add_middleware(WidgetCors, origins=origins)
