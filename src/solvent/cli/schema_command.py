"""``solvent schema NAME``: the JSON Schema of a file solvent reads, generated from its types."""

from __future__ import annotations

import json

import click

from solvent.file_formats import SCHEMAS, json_schema

__all__ = ["schema_cmd"]


@click.command("schema")
@click.argument("name", type=click.Choice(sorted(SCHEMAS)))
def schema_cmd(name: str) -> None:
    """Print the JSON Schema (2020-12) of the NAME file (``schemas/NAME.schema.json`` holds the same)."""
    click.echo(json.dumps(json_schema(name), indent=2, ensure_ascii=False))
