"""Thin routes: each reads its input, calls the service and shapes the reply. No logic of their own."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from spectrolab.web.examples import BUNDLED_EXAMPLE, ExampleFolder
from spectrolab.web.schemas import AnalysisOut, AudioForm, ConfigOut, EditForm, EditOut, ErrorOut
from spectrolab.web.service import EditorService, InputRejected

STATIC_DIR = Path(__file__).resolve().parent / "static"
ERRORS = {status: {"model": ErrorOut} for status in (403, 404, 413, 415, 422)}

api = APIRouter(prefix="/api", responses=ERRORS)  # type: ignore[arg-type]
page = APIRouter(include_in_schema=False)


def _service(request: Request) -> EditorService:
    return request.app.state.service


def _examples(request: Request) -> ExampleFolder:
    folder: ExampleFolder | None = request.app.state.examples
    if folder is None:
        raise InputRejected(404, "no folder of notes was given at start (spectrolab serve --examples DIR)")
    return folder


@page.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"cache-control": "no-cache"})


@api.get("/config")
async def config(request: Request) -> ConfigOut:
    """Limits, priors, families and parameter bounds."""
    service = _service(request)
    folder = request.app.state.examples is not None
    return ConfigOut.of(service.limits, priors=list(service.models.priors), examples_folder=folder)


@api.get("/example", response_class=FileResponse)
async def example() -> FileResponse:
    """The bundled example note (WAV)."""
    return FileResponse(BUNDLED_EXAMPLE, media_type="audio/wav", filename=BUNDLED_EXAMPLE.name)


@api.get("/examples/random", response_class=Response)
async def random_example(request: Request) -> Response:
    """A random note from the folder given at start; its name is in the ``X-Example-Name`` header."""
    name, data = _examples(request).pick()
    return Response(data, media_type="application/octet-stream", headers={"x-example-name": quote(name)})


@api.post("/analyse")
async def analyse(request: Request, form: Annotated[AudioForm, Form()]) -> AnalysisOut:
    """Check an audio file and return its code grid (cached by content hash)."""
    service = _service(request)
    sound = await service.accept(await form.audio.read())
    return AnalysisOut.of(await service.analyse(sound))


@api.post("/edit")
async def edit(request: Request, form: Annotated[EditForm, Form()]) -> EditOut:
    """Resample a rectangle of cells of the sound sent; returns the new version as WAV with its grid."""
    service = _service(request)
    sound = await service.accept(await form.audio.read())
    return EditOut.of(await service.edit(sound, **form.edit_arguments()))  # type: ignore[arg-type]
