"""Where solvent keeps a user's own data: the one home for that path.

``$SOLVENT_DATA_DIR`` when set, else ``$XDG_DATA_HOME/solvent``, else
``~/.local/share/solvent``. Venue profile overlays (``solvent venues update``) live in
its ``overlays/`` folder. Nothing is created until something is written there.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DATA_DIR_ENV", "user_data_dir"]

DATA_DIR_ENV = "SOLVENT_DATA_DIR"


def user_data_dir() -> Path:
    """The user's solvent data folder (see the module docstring); read from the environment each call."""
    own = os.environ.get(DATA_DIR_ENV)
    if own:
        return Path(own).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg).expanduser() / "solvent"
    return Path.home() / ".local" / "share" / "solvent"
