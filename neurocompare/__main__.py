"""``python -m neurocompare`` runs the command line."""

import sys

from neurocompare.cli import main

sys.exit(main())
