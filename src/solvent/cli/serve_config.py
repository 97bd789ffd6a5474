"""``solvent serve --config FILE``: the service's settings in a TOML file, and ``--print-config``.

The file has one table, ``[serve]``, whose keys are ``serve``'s own options with ``_`` for
``-`` (``keys_file``, ``failed_auth_rate``, …): the option list is the one home for what can
be set, so a new option can be set from the file too. An option given on the command line
wins over the file; the file wins over the defaults. An unknown table or key, a value of the
wrong type, or a file that is not TOML is refused before anything starts.

``--print-config`` prints the settings in force, in the same format, each with where it came
from, and exits: it is the way to write a first file.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from typing import Any

import click
from click.core import ParameterSource

from solvent.cli.files import read_input
from solvent.errors import InvalidInput

__all__ = ["NOT_IN_FILE", "load_config", "render_config", "settable"]

NOT_IN_FILE = frozenset({"config", "print_config", "new_key", "init", "help"})
"""Options that act once and so are not settings: they can't be set from the file (``init``
would let every restart turn a lost journal into a new venue)."""


def settable(command: click.Command) -> list[click.Option]:
    """The options of ``command`` a config file may set."""
    return [p for p in command.params if isinstance(p, click.Option) and p.name not in NOT_IN_FILE]


def load_config(path: str, command: click.Command) -> dict[str, Any]:
    """The ``[serve]`` table of the TOML file at ``path``, checked against ``command``'s options
    (values are converted and checked by click, as if given on the command line)."""
    try:
        text = read_input(path, "--config").decode("utf-8")
        document = tomllib.loads(text)
    except OSError as exc:
        raise InvalidInput(f"--config {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"--config {path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"--config {path}: not TOML ({exc})") from None
    extra = sorted(set(document) - {"serve"})
    if extra:
        if extra[0] in {p.name for p in settable(command)}:
            raise InvalidInput(f"--config {path}: {extra[0]!r} belongs in the [serve] table (put [serve] above it)")
        what = "table" if isinstance(document[extra[0]], dict) else "setting outside the [serve] table"
        raise InvalidInput(f"--config {path}: unknown {what} {extra[0]!r} (the file has one table, [serve])")
    table = document.get("serve", {})
    if not isinstance(table, dict):
        raise InvalidInput(f"--config {path}: 'serve' must be a table ([serve])")
    options = {p.name: p for p in settable(command)}
    out: dict[str, Any] = {}
    for key, value in table.items():
        option = options.get(key)
        if option is None:
            raise InvalidInput(f"--config {path}: unknown setting {key!r} (one of {', '.join(sorted(options))})")
        if isinstance(value, dict | list) or (option.is_flag and not isinstance(value, bool)):
            kind = "true or false" if option.is_flag else "a single value"
            raise InvalidInput(f"--config {path}: {key} must be {kind}")
        wanted = _toml_kind(option)
        if (isinstance(value, bool) and not option.is_flag) or not isinstance(value, wanted[0]):
            raise InvalidInput(f"--config {path}: {key} must be {wanted[1]}, not {_toml_name(value)}")
        try:
            out[key] = option.type_cast_value(click.Context(command), value)
        except click.BadParameter as exc:
            raise InvalidInput(f"--config {path}: {key}: {exc.message}") from None
    return out


def _toml_kind(option: click.Option) -> tuple[tuple[type, ...], str]:
    """The TOML value types ``option`` takes from a file, and how to name them: a value of
    another type is refused, never coerced (``port = "9000"`` or ``9000.7`` is not a port)."""
    if option.is_flag:
        return (bool,), "true or false"
    if isinstance(option.type, click.types.IntParamType):
        return (int,), "an integer"
    if isinstance(option.type, click.types.FloatParamType):
        return (int, float), "a number"
    return (str,), "a string"


def _toml_name(value: object) -> str:
    names = {bool: "true/false", int: "an integer", float: "a float", str: "a string"}
    return names.get(type(value), f"a TOML {type(value).__name__}")


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def render_config(ctx: click.Context, values: Mapping[str, Any]) -> str:
    """The settings in force as a ``[serve]`` table, each line saying where its value came from
    (unset ones commented out)."""
    sources = {ParameterSource.COMMANDLINE: "command line", ParameterSource.ENVIRONMENT: "environment",
               ParameterSource.DEFAULT_MAP: "config file", ParameterSource.DEFAULT: "default"}
    lines = ["[serve]"]
    assert ctx.command is not None
    for option in settable(ctx.command):
        name = option.name or ""
        value = values.get(name)
        source = sources.get(ctx.get_parameter_source(name) or ParameterSource.DEFAULT, "default")
        if value is None:
            about = (option.help or "").split(". ")[0].split(" (")[0].split(" [")[0].split(": ")[0].rstrip(".")
            lines.append(f"# {name} =   # not set: serve's own default applies ({about})")
        else:
            lines.append(f"{name} = {_toml_value(value)}  # {source}")
    return "\n".join(lines) + "\n"
