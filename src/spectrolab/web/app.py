"""The editor's app factory: middleware (Host allow-list, Origin check, security headers, body limit), error
handlers that answer bad input with a 4xx in plain words, the API and the static page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import torch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from spectrolab import __version__
from spectrolab.web.examples import ExampleFolder
from spectrolab.web.routes import STATIC_DIR, api, page
from spectrolab.web.security import BodyLimitMiddleware, OriginCheckMiddleware, SecurityHeadersMiddleware
from spectrolab.web.service import EditorService, InputRejected, Models
from spectrolab.web.settings import Limits, WebSettings


def _plain(errors: list[dict]) -> str:
    """Pydantic's validation errors as one sentence per field, without echoing the input."""
    parts = []
    for error in errors:
        field = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query"))
        message = "no file was sent" if error.get("type") == "missing" and field == "audio" else error["msg"]
        parts.append(f"{field or 'request'}: {message[:1].lower()}{message[1:]}")
    return "; ".join(parts)


def too_large(limits: Limits) -> str:
    return f"the request is larger than the {limits.max_upload_bytes / 2**20:g} MB upload limit"


def install_error_handlers(app: FastAPI, limits: Limits) -> None:
    @app.exception_handler(InputRejected)
    async def rejected(request: Request, exc: InputRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _plain(list(exc.errors()))}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 413:
            detail = too_large(limits)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)


def create_app(settings: WebSettings, *, models: Models | None = None) -> FastAPI:
    """The editor for one worker. The models load at start-up unless given (tests share them)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.threads > 0:
            torch.set_num_threads(settings.threads)
        app.state.service = EditorService(settings, models or Models.load())
        app.state.examples = None if settings.examples_dir is None else ExampleFolder(settings.examples_dir)
        yield

    app = FastAPI(
        title="spectrolab editor",
        version=__version__,
        summary="Select cells of a sound's code grid, resample them, listen, undo.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.include_router(api)
    app.include_router(page)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app, settings.limits)
    # Added innermost first: the Host check runs before anything else, the body limit just before parsing.
    limits = settings.limits
    app.add_middleware(BodyLimitMiddleware, max_body_size=limits.max_body_bytes, message=too_large(limits))
    app.add_middleware(OriginCheckMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts), www_redirect=False)
    return app


def app_from_env() -> FastAPI:
    """uvicorn's factory for each worker process of ``spectrolab serve``."""
    return create_app(WebSettings.from_env())
