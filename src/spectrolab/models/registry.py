"""Every model is a registered name built by one factory; its config travels with its weights.

A builder is a function taking keyword arguments and returning an ``nn.Module``; ``@register_model`` records
it under its name and a task ("tagging", "codec", "prior", ...). ``create_model(name, **overrides)`` builds
it. A *model directory* holds ``model.safetensors`` and ``config.json`` (the name, the arguments it was built
with, free-form metadata such as label names, and the library version) and is loaded strictly. Its weights
may be stored in half precision (``weights_dtype``, recorded in the config) to halve the file; they are
loaded into the model's float32 parameters.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load, save_file
from torch import nn

from spectrolab import __version__
from spectrolab.errors import ModelError, OutputExistsError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1
# Storage types for a model directory's floating-point weights (float32 unless a directory says otherwise).
WEIGHTS_DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float16": torch.float16}

# Modules whose import registers builders; imported lazily by the factory.
_PROVIDERS: tuple[str, ...] = (
    "spectrolab.models.tagging",
    "spectrolab.codec",
    "spectrolab.priors",
)


@dataclass(frozen=True)
class ModelInfo:
    """A registered builder and what it is for."""

    name: str
    task: str
    builder: Callable[..., nn.Module]
    description: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ModelInfo] = {}


def register_model(
    name: str, *, task: str, description: str = "", **defaults: Any
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator recording ``builder`` under ``name``; ``defaults`` are keyword arguments it is called with."""

    def wrap(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY and _REGISTRY[name].builder is not builder:
            raise ModelError(f"model name '{name}' is registered twice")
        doc = description or (builder.__doc__ or "").strip().split("\n")[0]
        _REGISTRY[name] = ModelInfo(name=name, task=task, builder=builder, description=doc, defaults=dict(defaults))
        return builder

    return wrap


def _load_providers() -> None:
    for module in _PROVIDERS:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


def list_models(task: str | None = None, *, pattern: str | None = None) -> list[str]:
    """Sorted registered names, optionally only those of ``task`` or containing ``pattern``."""
    _load_providers()
    names = (n for n, i in _REGISTRY.items() if task is None or i.task == task)
    return sorted(n for n in names if pattern is None or pattern in n)


def model_catalog() -> list[dict[str, str]]:
    """Name, task and description of every model the library registers (not those tests or users add)."""
    _load_providers()
    providers = tuple(f"{module}." for module in _PROVIDERS)
    infos = (_REGISTRY[name] for name in list_models())
    return [
        {"name": i.name, "task": i.task, "description": i.description}
        for i in infos
        if f"{getattr(i.builder, '__module__', '')}.".startswith(providers)
    ]


def model_info(name: str) -> ModelInfo:
    """The :class:`ModelInfo` of ``name``; raises :class:`ModelError` listing close names if unknown."""
    _load_providers()
    if name not in _REGISTRY:
        close = [n for n in _REGISTRY if name.split("/")[-1][:4] in n][:8]
        hint = f"; did you mean one of {close}?" if close else "; see `spectrolab models`"
        raise ModelError(f"unknown model '{name}'{hint}")
    return _REGISTRY[name]


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build the registered model ``name`` with its defaults updated by ``overrides``.

    The full set of arguments (the builder's own defaults included) is recorded on the model, so a saved
    config rebuilds the same architecture even if a default changes later.
    """
    info = model_info(name)
    try:
        bound = inspect.signature(info.builder).bind(**{**info.defaults, **overrides})
    except TypeError as exc:
        raise ModelError(f"model '{name}': {exc}") from exc
    bound.apply_defaults()
    kwargs = dict(bound.arguments)
    model = info.builder(**kwargs)
    model.spectrolab_name = name  # type: ignore[assignment]
    model.spectrolab_args = kwargs  # type: ignore[assignment]
    return model


def save_model_dir(
    model: nn.Module,
    directory: str | os.PathLike[str],
    *,
    metadata: dict[str, Any] | None = None,
    force: bool = False,
    weights_dtype: str = "float32",
) -> Path:
    """Write ``model.safetensors`` + ``config.json`` for a model built by :func:`create_model`.

    ``weights_dtype="float16"`` stores the floating-point tensors in half precision (half the file; a tensor
    beyond float16's range is refused, naming it); the config records it and loading restores float32."""
    name = getattr(model, "spectrolab_name", None)
    if name is None:
        raise ModelError("only models built by create_model() can be saved (their name and arguments are needed)")
    if weights_dtype not in WEIGHTS_DTYPES:
        raise ModelError(f"weights_dtype '{weights_dtype}' is not one of {', '.join(WEIGHTS_DTYPES)}")
    directory = Path(directory)
    if (directory / CONFIG_NAME).exists() and not force:
        raise OutputExistsError(f"{directory}: holds a model already; pass --force (force=True) to overwrite")
    tensors = {k: _stored(k, v.detach().cpu(), WEIGHTS_DTYPES[weights_dtype]) for k, v in model.state_dict().items()}
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "format_version": FORMAT_VERSION,
        "spectrolab_version": __version__,
        "name": name,
        "args": model.spectrolab_args,
        "metadata": metadata or {},
    }
    if weights_dtype != "float32":
        config["weights_dtype"] = weights_dtype
    tmp_weights = directory / f".{WEIGHTS_NAME}.tmp"
    save_file(tensors, str(tmp_weights))
    tmp_config = directory / f".{CONFIG_NAME}.tmp"
    tmp_config.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    os.replace(tmp_weights, directory / WEIGHTS_NAME)
    os.replace(tmp_config, directory / CONFIG_NAME)
    return directory


def _stored(name: str, tensor: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``tensor`` as stored: floating point in ``dtype`` (refused if it does not fit), others unchanged."""
    if not tensor.is_floating_point() or tensor.dtype == dtype:
        return tensor.contiguous()
    if tensor.numel() and float(tensor.abs().max()) > torch.finfo(dtype).max:
        raise ModelError(f"tensor '{name}' exceeds the range of {dtype} ({float(tensor.abs().max()):.3g})")
    return tensor.to(dtype).contiguous()


def store_weights(
    source: str | os.PathLike[str], out: str | os.PathLike[str], *, weights_dtype: str, force: bool = False
) -> Path:
    """Copy the model directory ``source`` to ``out`` with its weights stored as ``weights_dtype``; the
    metadata records the source's SHA-256 and the largest change of any weight, absolute and relative to its
    tensor's largest magnitude (``metadata.stored``)."""
    loaded = load_model_dir(source)
    dtype = WEIGHTS_DTYPES[weights_dtype]
    largest_abs = largest_relative = 0.0  # save_model_dir below rounds (and range-checks) the same way
    for tensor in loaded.model.state_dict().values():
        if tensor.is_floating_point() and tensor.numel():
            change = float((tensor.to(dtype).to(tensor.dtype) - tensor).abs().max())
            largest_abs = max(largest_abs, change)
            largest_relative = max(largest_relative, change / max(float(tensor.abs().max()), 1e-30))
    record = {
        "weights_dtype": weights_dtype,
        "from_sha256": loaded.sha256,
        "max_abs_change": largest_abs,
        "max_relative_change": largest_relative,  # to the tensor's largest magnitude
    }
    metadata = {**loaded.metadata, "stored": record}
    return save_model_dir(loaded.model, out, metadata=metadata, force=force, weights_dtype=weights_dtype)


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``config.json`` of a model directory, validated."""
    directory = Path(directory)
    path = directory / CONFIG_NAME
    if not path.is_file():
        raise ModelError(f"{directory}: not a model directory (no {CONFIG_NAME})")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelError(f"{path}: invalid JSON ({exc})") from exc
    for key in ("name", "args", "format_version"):
        if key not in config:
            raise ModelError(f"{path}: missing key '{key}'")
    if config["format_version"] > FORMAT_VERSION:
        raise ModelError(f"{path}: format version {config['format_version']} is newer than this spectrolab supports")
    return config


@dataclass
class LoadedModel:
    """A model rebuilt from its directory (in eval mode), the metadata saved with it, and the SHA-256 of its
    weights file (the model's identity: the same architecture trained twice has two)."""

    model: nn.Module
    name: str
    metadata: dict[str, Any]
    directory: Path
    sha256: str = ""


def load_model_dir(directory: str | os.PathLike[str], *, map_location: str = "cpu") -> LoadedModel:
    """Rebuild a model from its directory and load its weights strictly."""
    directory = Path(directory)
    config = read_config(directory)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise ModelError(f"{directory}: missing {WEIGHTS_NAME}")
    model = create_model(config["name"], **config["args"])
    data = weights.read_bytes()
    state = {k: v.to(map_location) for k, v in load(data).items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"{weights}: weights do not match model '{config['name']}' ({exc})") from exc
    model.eval()
    metadata = dict(config.get("metadata", {}))
    sha256 = hashlib.sha256(data).hexdigest()
    return LoadedModel(model=model, name=config["name"], metadata=metadata, directory=directory, sha256=sha256)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
