"""Rewrite ``src/spectrolab/assets/models.json``, the catalogue `spectrolab models` lists without importing torch.

Run after registering, renaming or describing a model: ``PYTHONPATH=src python scripts/model_catalog.py``
(tests/test_cli.py fails while the catalogue and the registry disagree).
"""

from __future__ import annotations

import json

from spectrolab.models.registry import model_catalog
from spectrolab.paths import MODEL_CATALOG

if __name__ == "__main__":
    MODEL_CATALOG.write_text(json.dumps(model_catalog(), indent=1) + "\n")
    print(f"wrote {MODEL_CATALOG}")
