"""Default sampling options of an edit, in one torch-free place: ``BlurOptions``, the ``blur`` CLI (which
reads them without importing torch) and the web editor all take them from here.

Chosen from results/prior_steering.md (scripts/prior_steering.py): at temperature 0.7 unconditioned edits
keep the note's f0 more often (70 % against 52-67 % at 1.0, both priors) with edges as smooth as the round
trip's; guidance 3 is where the Transformer's ``--pitch`` gets closest to its target (Naive Bayes hits it
as often at 1 as at 3). Steps from results/sampling_steps.md (scripts/sampling_steps.py): 2, 3 and 4 steps
keep the f0, the level, the edges and the ``--pitch`` hits as well as 8 do (within the noise of 27 and 60
trials), for both priors, at a third to a half of the sampling time; 3 is the default.
"""

from __future__ import annotations

DEFAULT_TEMPERATURE = 0.7
DEFAULT_STEPS = 3
DEFAULT_GUIDANCE = 3.0
