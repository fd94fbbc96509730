"""bfloat16 inference on CPUs that have it in hardware: half the time of float32 for this project's networks.

A model keeps its float32 weights (trained, saved and loaded as float32); :class:`BFloat16Copies` runs one of
its sub-networks through a bfloat16 copy, made once per version and device of the weights, when the model is
in eval mode, no gradient is recorded and its ``precision`` asks for it (:func:`uses_bfloat16`).
"""

from __future__ import annotations

import copy
import platform
from functools import cache
from pathlib import Path
from typing import Literal, cast

import torch
from torch import nn

Precision = Literal["auto", "float32", "bfloat16"]
"""How a model runs inference: ``"auto"`` (bfloat16 on CPUs with native bfloat16, else float32) or fixed."""


@cache
def native_bfloat16() -> bool:
    """Whether this CPU has bfloat16 arithmetic in hardware (AVX512-BF16 or AMX); elsewhere bfloat16 would be
    emulated, and slower than float32."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def cpu_description() -> str:
    """This machine's CPU model as Linux names it (``platform.processor()`` elsewhere), and whether it does
    bfloat16 in hardware: speed figures depend on both."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    name = names[0] if names else platform.processor() or platform.machine()
    return f"{name}, {'native' if native_bfloat16() else 'no'} bfloat16"


def uses_bfloat16(precision: Precision, device: torch.device) -> bool:
    """Whether inference in ``precision`` on ``device`` runs in bfloat16 (``"auto"``: on CPUs with native
    bfloat16 only)."""
    if precision == "auto":
        return device.type == "cpu" and native_bfloat16()
    return precision == "bfloat16"


class BFloat16Copies:
    """bfloat16 copies of a model's sub-networks, each made once per version and device of its weights (and per
    memory format: a convolutional network may run channels-last, where its convolutions measure faster)."""

    def __init__(self) -> None:
        self._copies: dict[str, tuple[tuple[int, torch.device, bool], nn.Module]] = {}

    def get(self, name: str, network: nn.Module, *, channels_last: bool = False) -> nn.Module:
        """The bfloat16 copy of ``network`` (registered as ``name``), refreshed if its weights or the memory
        format asked for changed."""
        device = next(network.parameters()).device
        key = (sum(p._version for p in network.parameters()), device, channels_last)
        cached = self._copies.get(name)
        if cached is None or cached[0] != key:
            made = copy.deepcopy(network).to(torch.bfloat16)
            if channels_last:
                made = made.to(memory_format=torch.channels_last)
            cached = self._copies[name] = (key, made)
        return cached[1]

    def run(
        self,
        name: str,
        network: nn.Module,
        x: torch.Tensor,
        *,
        enabled: bool,
        layers: slice | None = None,
        channels_last: bool = False,
    ) -> torch.Tensor:
        """``network(x)``, through its bfloat16 copy when ``enabled`` and no gradient is recorded (the output is
        cast back to ``x``'s dtype). With ``layers``, ``network`` is an ``nn.Sequential`` and only those of its
        layers run, the output left in the dtype they ran in (bfloat16 or ``x``'s), ready for the next ones.
        With ``channels_last`` (a 4-D input), the copy and its input are channels-last: the same numbers within
        bfloat16 rounding, in the memory format that suits the CPU's convolutions."""
        if not enabled or network.training or torch.is_grad_enabled():
            return network(x) if layers is None else cast(nn.Sequential, network)[layers](x)
        copy = self.get(name, network, channels_last=channels_last)
        inputs = x.to(torch.bfloat16)
        if channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        if layers is not None:
            return cast(nn.Sequential, copy)[layers](inputs)
        return copy(inputs).to(x.dtype)
