"""Parse integer selections written on the command line: ``"40"``, ``"25,50,75"``, ``"21:108"``, ``"0:7,24,40:46"``.

A spec is comma-separated items; an item is one integer ``N`` or an inclusive range ``A:B`` (optionally
``A:B:STEP``). The result is sorted and without duplicates. Bad specs raise :class:`ConfigError` naming the
option and the offending item.
"""

from __future__ import annotations

from collections.abc import Iterable

from spectrolab.errors import ConfigError


def _parse_int(text: str, *, name: str, spec: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(
            f"{name}: '{text}' in '{spec}' is not an integer (write e.g. 40, 25,50,75 or 21:108)"
        ) from None


def _parse_item(item: str, *, name: str, spec: str) -> range:
    parts = item.split(":")
    if len(parts) == 1:
        value = _parse_int(parts[0], name=name, spec=spec)
        return range(value, value + 1)
    if len(parts) > 3:
        raise ConfigError(f"{name}: '{item}' in '{spec}' has too many ':' (write A:B or A:B:STEP)")
    start, stop = (_parse_int(p, name=name, spec=spec) for p in parts[:2])
    step = _parse_int(parts[2], name=name, spec=spec) if len(parts) == 3 else 1
    if step <= 0:
        raise ConfigError(f"{name}: step {step} in '{spec}' must be positive")
    if stop < start:
        raise ConfigError(f"{name}: range '{item}' in '{spec}' is empty (start {start} > end {stop})")
    return range(start, stop + 1, step)


def parse_int_spec(spec: str | int | Iterable[int], *, name: str, low: int, high: int) -> tuple[int, ...]:
    """Integers selected by ``spec``, sorted and unique, each checked to lie in ``[low, high]``.

    ``spec`` may also be an int or an iterable of ints (from the Python API). ``name`` is the option named in
    error messages, e.g. ``"--pitches"``.
    """
    if isinstance(spec, int):
        values: set[int] = {spec}
    elif isinstance(spec, str):
        items = [item.strip() for item in spec.split(",")]
        if not spec.strip() or any(not item for item in items):
            raise ConfigError(f"{name}: '{spec}' has an empty item (write e.g. 40, 25,50,75 or 21:108)")
        values = {v for item in items for v in _parse_item(item, name=name, spec=spec)}
    else:
        values = {int(v) for v in spec}
        if not values:
            raise ConfigError(f"{name}: the selection is empty")
    outside = sorted(v for v in values if not low <= v <= high)
    if outside:
        raise ConfigError(f"{name}: {outside[:5]} outside the allowed range {low}-{high}")
    return tuple(sorted(values))
