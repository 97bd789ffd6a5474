"""Running a stress run or a capital adequacy report again from its JSON (``--inputs FILE``):
reading the file's ``inputs`` and the digest it records, one home for ``simulate`` and
``adequacy``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

import solvent
from solvent.cli.files import read_input
from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict

__all__ = ["no_run_options", "recorded_inputs", "version_note"]


def no_run_options(ctx: click.Context, options: dict[str, str]) -> None:
    """Refuse any of ``options`` (parameter name → flag) given with ``--inputs``: the file decides."""
    given = [flag for name, flag in options.items()
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        raise InvalidInput(f"--inputs runs what the file says; {given[0]} cannot change it")


def recorded_inputs(path: Path, *, allow_float: bool = False) -> tuple[object, str | None, dict[str, Any] | None]:
    """The ``inputs`` object of a previous ``--json`` output (or the file itself when it is the
    ``inputs`` object alone), the digest the output records (``None``: none) and the whole
    output (``None``: the file is the inputs alone). ``allow_float``: a run's output holds a
    float (its ``wall_s``)."""
    doc = loads_strict(read_input(path, "--inputs"), str(path), allow_float=allow_float)
    if isinstance(doc, dict) and "inputs" in doc:
        digest = doc.get("digest")
        if digest is not None and not isinstance(digest, str):
            raise InvalidInput(f"{path}: digest must be a string")
        return doc["inputs"], digest, doc
    return doc, None, None


def version_note(path: Path, inputs: object) -> None:
    """A note on stderr when the inputs were written by another version of solvent."""
    version = inputs.get("version") if isinstance(inputs, dict) else None
    if version != solvent.__version__:
        click.echo(f"note: {path} was written by solvent {version}, this is {solvent.__version__}: a change to the "
                   "engine since may change the digest", err=True)
