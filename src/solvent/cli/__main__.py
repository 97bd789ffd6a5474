"""``python -m solvent.cli``: the same as the ``solvent`` command."""

from solvent.cli import entry_point

entry_point()
