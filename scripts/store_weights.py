"""Store a model directory's weights in half precision (half the file), recording it in the model's config.

    PYTHONPATH=src python scripts/store_weights.py RUN/model src/spectrolab/assets/tagger_default --force

The copy's ``metadata.stored`` names the source's SHA-256 and the largest change of any weight; loading gives
float32 parameters again. Score the stored copy, not the source: it is what ships.
"""

from __future__ import annotations

import argparse
import sys

from spectrolab.errors import SpectrolabError
from spectrolab.models import store_weights
from spectrolab.models.registry import WEIGHTS_DTYPES


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="model directory (model.safetensors + config.json)")
    parser.add_argument("out", help="output model directory")
    parser.add_argument("--weights-dtype", choices=list(WEIGHTS_DTYPES), default="float16")
    parser.add_argument("--force", action="store_true", help="replace a model already in OUT")
    args = parser.parse_args()
    try:
        out = store_weights(args.source, args.out, weights_dtype=args.weights_dtype, force=args.force)
    except SpectrolabError as exc:
        print(f"store_weights: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
