"""Running a stress run or a capital adequacy report again from its JSON (``--inputs FILE``):
reading the file's ``inputs`` and the digest it records, one home for ``simulate`` and
``adequacy``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

import solvent
from solvent.cli.files import read_input
from solvent.errors import InvalidInput
from solvent.jsonstrict import loads_strict

__all__ = ["no_run_options", "recorded_inputs", "rerun_mismatch", "version_note"]


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


_ABSENT = object()


def rerun_mismatch(ran: dict[str, Any], recorded: str | None, whole: dict[str, Any] | None,
                   inputs_file: Path | None, *, what: str, unrecorded: frozenset[str]) -> str | None:
    """How a run from ``--inputs`` differs from the file, ``None`` when it does not: the digest,
    then, for a whole output (``whole``), every figure it holds against the run's output ``ran``
    (a figure edited with its digest left as it was is caught). ``unrecorded``: keys that say
    where the output was written or how long it took, not what the run found. Every figure the
    file holds is compared, one the run does not print too; one the run prints and the file
    lacks is not (an earlier solvent printed fewer, and a figure left out claims nothing).
    ``recorded`` ``""``: a digest that cannot be compared (said when the file was read);
    ``None``: none recorded, noted, and a whole output's figures still compared.
    Says ``digest matches`` on stderr, or notes a file that records no digest."""
    if inputs_file is None or recorded == "":
        return None
    if recorded is not None and ran["digest"] != recorded:
        return f"the digest {ran['digest']} differs from the one {inputs_file} records ({recorded})"
    if whole is not None:  # with its digest or without it (found by audit: a whole output with its digest
        # deleted or null, and a figure edited, passed)
        printed = json.loads(json.dumps(ran))  # as the file holds it: tuples are lists
        keys = set(whole) - unrecorded - {"inputs"}
        differ = sorted(k for k in keys if whole[k] != printed.get(k, _ABSENT))
        if differ:
            said = "records the digest this run gives, but not its figures" if recorded is not None else (
                "records no digest, and not this run's figures")
            return f"{inputs_file} {said}: {differ[0]!r} differs (edited since the {what} was written?)"
    if recorded is None:
        click.echo(f"note: {inputs_file} records no digest: the {what} is not checked against one"
                   + ("" if whole is None else " (every figure it holds matches)"), err=True)
        return None
    click.echo(f"digest matches {inputs_file}" + ("" if whole is None else ", and every figure it holds"), err=True)
    return None
