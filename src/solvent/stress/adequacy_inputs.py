"""What a capital adequacy report was run on, echoed in its JSON (``inputs``) so that the JSON
alone runs the report again (``solvent adequacy --inputs FILE``) and checks its digest.

The inputs are the book (drawn from ``BookParams``, or read from a venue's book file named by
its path and SHA-256), the Monte Carlo options (paths, horizon, seed and seed bands) and the
minutes a scenario's shock is held (``adequacy.HOLD_MINUTES``, a constant of this version).
Where the paths run (``--ray``) is not an input: the results are the same locally and on Ray.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import solvent
from solvent.errors import InvalidInput
from solvent.jsonstrict import json_object
from solvent.risk.venues import VenueProfile
from solvent.stress.adequacy import HOLD_MINUTES
from solvent.stress.book import BookParams, SyntheticBook, generate_book
from solvent.stress.montecarlo import MAX_HORIZON, MAX_PATHS
from solvent.stress.run_inputs import decode_params, encode_params, file_sha256, recorded_profile

__all__ = ["ADEQUACY_INPUTS_FORMAT", "MAX_BANDS", "AdequacyInputs", "check_monte_carlo"]

ADEQUACY_INPUTS_FORMAT = "solvent-adequacy-inputs/1"
MAX_BANDS = 20
"""Further Monte Carlo seeds for the VaR's seed bands, at most."""


def check_monte_carlo(paths: int, horizon: int, seed: int, bands: int) -> None:
    """The Monte Carlo options' limits (``InvalidInput`` names the option)."""
    for option, value, low, high in (("--paths", paths, 0, MAX_PATHS), ("--horizon", horizon, 1, MAX_HORIZON),
                                     ("--bands", bands, 0, MAX_BANDS)):
        if not low <= value <= high:
            raise InvalidInput(f"{option} must lie in [{low:,}, {high:,}], got {value:,}")
    if seed < 0:
        raise InvalidInput(f"--mc-seed must be >= 0, got {seed}")
    if bands and not paths:
        raise InvalidInput("--bands are further seeds of the Monte Carlo paths; --paths 0 runs none")


@dataclass(frozen=True, slots=True)
class AdequacyInputs:
    book: BookParams
    paths: int
    """Monte Carlo paths (0: none run)."""
    horizon: int
    """Minutes per Monte Carlo path."""
    mc_seed: int
    bands: int
    book_file: str | None = None
    """A venue's own book (``book_file.read_book_file``) instead of a drawn one."""
    book_sha256: str | None = None
    profile: dict[str, Any] | None = None
    """The venue profile the book was built on (``journal.codec.encode_profile``: bundled, or with
    the overlay ``solvent venues update`` wrote, by its SHA-256); ``None``: the venue as it is now."""

    def check(self) -> None:
        """The limits every report keeps, whether its inputs come from options or from a file
        (``InvalidInput`` names the option)."""
        check_monte_carlo(self.paths, self.horizon, self.mc_seed, self.bands)
        if (self.book_file is None) != (self.book_sha256 is None) or (self.book_file is None) == (
                self.book.model == "file"):
            raise InvalidInput("inputs: a book read from a file names book_file, its book_sha256 and model 'file'; "
                               "a drawn book none of them")

    def to_json(self) -> dict[str, Any]:
        return {"format": ADEQUACY_INPUTS_FORMAT, "version": solvent.__version__, "hold_minutes": HOLD_MINUTES,
                "book": encode_params(self.book), "book_file": self.book_file, "book_sha256": self.book_sha256,
                "profile": self.profile,
                "monte_carlo": {"paths": self.paths, "horizon_minutes": self.horizon, "seed": self.mc_seed,
                                "seed_bands": self.bands}}

    @classmethod
    def from_json(cls, doc: object) -> AdequacyInputs:
        """Inputs from ``to_json``'s object; ``InvalidInput`` names what is wrong. A report
        written before its inputs held the Monte Carlo options is refused: they cannot be known."""
        if not isinstance(doc, dict) or doc.get("format") != ADEQUACY_INPUTS_FORMAT:
            # what kind of file it is first (found by review: a simulate run's was refused over a field)
            if isinstance(doc, dict) and "format" not in doc and {"hold_minutes", "book"} <= set(doc):
                raise InvalidInput("inputs: written before a report recorded its Monte Carlo options and book "
                                   "file; run it again from its options")
            shown = doc.get("format") if isinstance(doc, dict) else None
            raise InvalidInput(f"inputs: not a capital adequacy report's (format {shown!r}, not "
                               f"{ADEQUACY_INPUTS_FORMAT}); a `solvent simulate` run's runs with `simulate --inputs`")
        if isinstance(doc, dict) and "profile" not in doc:  # written before the profile was recorded
            doc = {**doc, "profile": None}
        body = json_object(doc, "inputs", {"format", "version", "hold_minutes", "book", "book_file", "book_sha256",
                                           "monte_carlo", "profile"})
        if body["hold_minutes"] != HOLD_MINUTES:
            raise InvalidInput(f"inputs.hold_minutes: {body['hold_minutes']!r}; this solvent holds each shock "
                               f"{HOLD_MINUTES} minutes")
        for name in ("book_file", "book_sha256"):
            if body[name] is not None and not isinstance(body[name], str):
                raise InvalidInput(f"inputs.{name} must be a string or null")
        sha = body["book_sha256"]
        if sha is not None and not re.fullmatch(r"[0-9a-f]{64}", sha):
            raise InvalidInput("inputs.book_sha256 must be a SHA-256 (64 lowercase hex digits) or null")
        mc = json_object(body["monte_carlo"], "inputs.monte_carlo", {"paths", "horizon_minutes", "seed",
                                                                     "seed_bands"})
        counts = {}
        for name in ("paths", "horizon_minutes", "seed", "seed_bands"):
            value = mc[name]
            if not isinstance(value, int) or isinstance(value, bool):
                raise InvalidInput(f"inputs.monte_carlo.{name}: {value!r} is not a whole number")
            counts[name] = value
        inputs = cls(book=decode_params(BookParams, body["book"], "inputs.book"), paths=counts["paths"],
                     horizon=counts["horizon_minutes"], mc_seed=counts["seed"], bands=counts["seed_bands"],
                     book_file=body["book_file"], book_sha256=sha,
                     profile=None if body.get("profile") is None else json_object(body["profile"], "inputs.profile"))
        inputs.check()
        return inputs

    def load_book(self) -> SyntheticBook:
        """The book the report runs on: drawn, or read from ``book_file``, which must have the
        bytes ``book_sha256`` names."""
        profile = self.venue_profile()
        if self.book_file is None:
            return generate_book(self.book, profile)
        from solvent.stress.book_file import read_book_file

        held = Path(self.book_file)
        if self.book_sha256 is not None and file_sha256(held) != self.book_sha256:
            raise InvalidInput(f"{held} is not the book the report read: its SHA-256 is {file_sha256(held)}, the "
                               f"inputs name {self.book_sha256}")
        return read_book_file(held, self.book, profile)

    def venue_profile(self) -> VenueProfile | None:
        """The profile ``profile`` names (``None``: load the venue as it is now)."""
        return recorded_profile(self.profile, self.book.venue, "report")
