"""``python -m solvent_verify``: the same as the ``solvent-verify`` command."""

import sys

from solvent_verify.cli import main

sys.exit(main())
