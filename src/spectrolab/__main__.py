"""``python -m spectrolab``: the command line."""

import sys

from spectrolab.cli.main import main

sys.exit(main())
