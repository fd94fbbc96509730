"""Exposure defences: which hosts count as loopback, the Host allow-list, the Origin check on POSTs, the request
body limit, and the response headers that keep the page to itself. There is no CORS middleware: no other
origin may call the API."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spectrolab.web.settings import LOOPBACK_HOSTS

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this machine."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_header_name(host: str) -> str:
    """``host`` as it appears in a Host header: IPv6 literals in brackets, lower case."""
    host = host.lower()
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Loopback names, the bound host unless it is a wildcard, and any names given (a proxy's, say)."""
    names = [*LOOPBACK_HOSTS]
    if bind_host not in ("0.0.0.0", "::", ""):
        names.append(host_header_name(bind_host))
    names += [host_header_name(h) for h in extra]
    return tuple(dict.fromkeys(names))


def same_origin(origin: str, host: str | None) -> bool:
    """Whether an Origin header names the host (and port) the request was sent to."""
    if host is None or origin == "null":
        return False
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower()


class OriginCheckMiddleware:
    """Refuse (403) a state-changing request a browser sent from another origin.

    Browsers send ``Origin`` with every POST; it must name the host the request was sent to (already on the
    allow-list). Requests without one (curl, scripts) pass, unless ``Sec-Fetch-Site`` says cross-site.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            cross_site = headers.get("sec-fetch-site") == "cross-site"
            if cross_site or (origin is not None and not same_origin(origin, headers.get("host"))):
                detail = f"requests from another site ({origin or 'cross-site'}) are refused"
                await JSONResponse({"detail": detail}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    """Add a strict Content-Security-Policy and related headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Starlette's :class:`RequestBodyLimitMiddleware` (413 before parsing, whether or not a Content-Length is
    declared), answering in JSON with the limit in plain words instead of its plain-text reply."""

    def __init__(self, app: ASGIApp, *, max_body_size: int, message: str) -> None:
        self.inner = RequestBodyLimitMiddleware(app, max_body_size=max_body_size)
        self.body = json.dumps({"detail": message}).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        replaced = False

        async def send_json(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start" and message["status"] == 413:
                headers = Headers(raw=message.get("headers", []))
                if headers.get("content-type", "").startswith("text/plain"):
                    replaced = True
                    length = str(len(self.body)).encode()
                    raw = [(b"content-type", b"application/json"), (b"content-length", length)]
                    await send({"type": "http.response.start", "status": 413, "headers": raw})
                    await send({"type": "http.response.body", "body": self.body})
                    return
            if not replaced:
                await send(message)

        await self.inner(scope, receive, send_json)
