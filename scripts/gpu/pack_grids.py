"""Transport of encoded grids to a device machine: the cache of scripts/train_priors.py (``--cache``) as
compressed uint16 ``.npz`` files (``pack SRC DST``; 82,018 training grids of 32 x 16 codes take 12.6 MB
instead of 337 MB) and back (``unpack SRC DST``, exactly the same tensors).

    python scripts/gpu/pack_grids.py pack runs/priors/encoded gpu/data
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file


def pack(source: Path, target: Path) -> None:
    for path in sorted(source.glob("*.safetensors")):
        tensors = load_file(str(path))
        if int(tensors["grids"].max()) > np.iinfo(np.uint16).max:
            raise SystemExit(f"{path}: codes above 65535 do not fit uint16")
        arrays = {k: v.numpy().astype(np.uint16 if k == "grids" else np.int16) for k, v in tensors.items()}
        np.savez_compressed(target / f"{path.stem}.npz", **arrays)
        print(f"packed {path.name}", flush=True)


def unpack(source: Path, target: Path) -> None:
    for path in sorted(source.glob("*.npz")):
        with np.load(path) as arrays:
            tensors = {k: torch.from_numpy(arrays[k].astype(np.int64)) for k in arrays.files}
        save_file(tensors, str(target / f"{path.stem}.safetensors"))
        print(f"unpacked {path.name}", flush=True)


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("pack", "unpack"):
        raise SystemExit(__doc__)
    mode, source, target = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    target.mkdir(parents=True, exist_ok=True)
    (pack if mode == "pack" else unpack)(source, target)


if __name__ == "__main__":
    main()
