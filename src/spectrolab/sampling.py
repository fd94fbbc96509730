"""Default sampling options of an edit, in one torch-free place: ``BlurOptions``, the ``blur`` CLI (which
reads them without importing torch) and the web editor all take them from here.

Chosen from results/prior_steering.md (scripts/prior_steering.py): the temperature at which unconditioned
edits best keep the note's pitch and level, and the guidance at which ``--pitch`` lands on its target.
"""

from __future__ import annotations

DEFAULT_TEMPERATURE = 1.0
DEFAULT_STEPS = 8
DEFAULT_GUIDANCE = 1.0
