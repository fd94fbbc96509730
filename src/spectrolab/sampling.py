"""Default sampling options of an edit, in one torch-free place: ``BlurOptions``, the ``blur`` CLI (which
reads them without importing torch) and the web editor all take them from here.

Chosen from results/prior_steering.md (scripts/prior_steering.py): at temperature 0.7 unconditioned edits
keep the note's f0 more often (70 % against 52-67 % at 1.0, both priors) with edges as smooth as the round
trip's; guidance 3 is where the Transformer's ``--pitch`` gets closest to its target (Naive Bayes hits it
as often at 1 as at 3).
"""

from __future__ import annotations

DEFAULT_TEMPERATURE = 0.7
DEFAULT_STEPS = 8
DEFAULT_GUIDANCE = 3.0
