"""``python -m verifier BUNDLE [--json] [--weights MODEL]``: see ``verifier.cli``."""

import sys

from .cli import main

sys.exit(main())
