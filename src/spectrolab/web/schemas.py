"""The JSON API's request forms and responses (what ``/openapi.json`` describes), and their bounds."""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Literal

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field

from spectrolab import __version__
from spectrolab.data.nsynth import NSYNTH_FAMILIES
from spectrolab.sampling import DEFAULT_GUIDANCE, DEFAULT_STEPS, DEFAULT_TEMPERATURES, temperature_help
from spectrolab.web.service import Analysis, EditReply, GridView
from spectrolab.web.settings import Limits

MAX_CELL_INDEX = 4096
MAX_TEMPERATURE = 10.0
MAX_STEPS = 64
MAX_GUIDANCE = 10.0
MAX_SEED = 2**32 - 1


class AudioForm(BaseModel):
    """An audio file, recognised by its content (libsndfile), not by its name or declared type."""

    model_config = ConfigDict(extra="forbid")
    audio: UploadFile


class EditForm(AudioForm):
    """A sound and the rectangle of grid cells to resample, with how to resample it."""

    row_start: int = Field(ge=0, le=MAX_CELL_INDEX, description="first grid row (0 = lowest band)")
    row_stop: int = Field(ge=1, le=MAX_CELL_INDEX, description="row after the last")
    col_start: int = Field(ge=0, le=MAX_CELL_INDEX, description="first time cell")
    col_stop: int = Field(ge=1, le=MAX_CELL_INDEX, description="time cell after the last")
    prior: Literal["nb", "transformer"] = Field("nb", description="Naive Bayes or the masked-code Transformer")
    temperature: float | None = Field(
        None, gt=0.0, le=MAX_TEMPERATURE, allow_inf_nan=False, description=f"sampling temperature; {temperature_help()}"
    )
    steps: int = Field(
        DEFAULT_STEPS, ge=1, le=MAX_STEPS, description="Gibbs sweeps (nb) or unmasking steps (transformer)"
    )
    seed: int = Field(0, ge=0, le=MAX_SEED, description="same seed, same result")
    pitch: int | None = Field(None, ge=0, le=127, description="target MIDI pitch")
    family: str | None = Field(None, json_schema_extra={"enum": list(NSYNTH_FAMILIES)}, description="target family")
    guidance: float = Field(
        DEFAULT_GUIDANCE,
        ge=0.0,
        le=MAX_GUIDANCE,
        allow_inf_nan=False,
        description="how hard the targets steer (classifier-free guidance: 0 ignores them, 1 plain)",
    )
    level: int = Field(0, ge=0, le=7, description="code level (0 = bottom, finest)")
    match_level: bool = Field(True, description="give the edit the original's level inside the region")

    def edit_arguments(self) -> dict[str, object]:
        return self.model_dump(exclude={"audio"})


class GridOut(BaseModel):
    level: int
    rows: int
    cols: int
    seconds_per_cell: float
    row_edges_hz: list[float] = Field(description="rows + 1 band edges, lowest first")
    codebook_size: int
    codes: list[list[int]] = Field(description="rows x cols codes, row 0 the lowest band")

    @classmethod
    def of(cls, grid: GridView) -> GridOut:
        return cls(**asdict(grid))


class AnalysisOut(BaseModel):
    key: str = Field(description="SHA-256 of the audio file's bytes")
    sample_rate: int
    channels: int
    frames: int
    duration: float
    grid: GridOut

    @classmethod
    def of(cls, analysis: Analysis) -> AnalysisOut:
        info = analysis.sound.info
        return cls(
            key=analysis.sound.key,
            sample_rate=info.sample_rate,
            channels=info.channels,
            frames=info.frames,
            duration=info.duration,
            grid=GridOut.of(analysis.grid),
        )


class CellsOut(BaseModel):
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int


class RegionOut(BaseModel):
    start_s: float
    stop_s: float
    low_hz: float
    high_hz: float


class EditOut(BaseModel):
    audio_wav_base64: str = Field(description="the edited version, a 32-bit float WAV")
    key: str = Field(description="SHA-256 of that WAV's bytes")
    sample_rate: int
    channels: int
    grid: GridOut = Field(description="the codes after the edit")
    changed: list[list[bool]] = Field(description="rows x cols, true where the edit changed the code")
    cells: CellsOut
    region: RegionOut = Field(description="the seconds and Hz the edited cells span")
    changed_cells: int
    latency_ms: dict[str, float] = Field(description="queue, load, edit and total server time")
    energy: dict[str, float | str] | None = Field(
        None, description="energy of the edit: joules (the middle of the estimate's range) and how it was obtained"
    )

    @classmethod
    def of(cls, reply: EditReply) -> EditOut:
        return cls(
            audio_wav_base64=base64.b64encode(reply.wav).decode("ascii"),
            key=reply.key,
            sample_rate=reply.sample_rate,
            channels=reply.channels,
            grid=GridOut.of(reply.grid),
            changed=reply.changed,
            cells=CellsOut(**asdict(reply.cells)),
            region=RegionOut(**asdict(reply.region)),
            changed_cells=reply.changed_cells,
            latency_ms=reply.latency_ms,
            energy=reply.energy,
        )


class Bounds(BaseModel):
    temperature: tuple[float, float] = (0.0, MAX_TEMPERATURE)
    steps: tuple[int, int] = (1, MAX_STEPS)
    guidance: tuple[float, float] = (0.0, MAX_GUIDANCE)
    seed: tuple[int, int] = (0, MAX_SEED)
    pitch: tuple[int, int] = (0, 127)


class ConfigOut(BaseModel):
    """What the page needs to know before the first request: limits, choices, bounds."""

    version: str = __version__
    max_upload_bytes: int
    max_duration_s: float
    min_duration_s: float
    priors: list[str]
    families: list[str] = list(NSYNTH_FAMILIES)
    bounds: Bounds = Bounds()
    default_temperatures: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_TEMPERATURES), description="each prior's temperature when none is given"
    )
    examples_folder: bool = Field(description="whether a folder of notes was given at start (random note)")
    energy: bool = Field(False, description="whether edits report their energy")

    @classmethod
    def of(cls, limits: Limits, *, priors: list[str], examples_folder: bool) -> ConfigOut:
        return cls(
            max_upload_bytes=limits.max_upload_bytes,
            max_duration_s=limits.max_duration_s,
            min_duration_s=limits.min_duration_s,
            priors=priors,
            examples_folder=examples_folder,
            energy=True,
        )


class ErrorOut(BaseModel):
    detail: str = Field(description="what was wrong, in plain words")
