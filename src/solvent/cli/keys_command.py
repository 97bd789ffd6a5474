"""``solvent keys new | list | revoke``: the service's API keys file, edited in place.

The file is rewritten atomically (mode 0600) under an exclusive lock, so two commands run at
once cannot lose each other's change. A running ``solvent serve`` notices the new file within
about a second (``KeyStore.refresh``): a revoked key is refused from then on, without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from solvent.cli.render import emit_json
from solvent.errors import InvalidInput
from solvent.extras import missing_extra

if TYPE_CHECKING:  # solvent.service is imported when a command runs: it brings the web stack
    from solvent.service.keys import KeyStore

__all__ = ["issue_key", "keys_cmd", "revoke_key"]

_keys_file = click.option("--keys-file", envvar="SOLVENT_KEYS_FILE", type=click.Path(dir_okay=False), required=True,
                          help="JSON file of hashed API keys (default: $SOLVENT_KEYS_FILE).")
_json = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@contextlib.contextmanager
def _locked(keys_file: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<keys file>.lock`` (readers, like the service, never take it)."""
    try:
        descriptor = os.open(f"{keys_file}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as bad:
        raise InvalidInput(f"cannot lock keys file {keys_file}: {bad.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def _service_extra() -> Iterator[None]:
    """Importing ``solvent.service.keys`` brings the web stack: the 'service' extra."""
    try:
        yield
    except ImportError as exc:
        raise missing_extra(exc, "service", "solvent keys") from None


def issue_key(spec: str, keys_file: str) -> str:
    """Add a key for ``spec`` ('operator', 'treasury' or 'account:<id>') to ``keys_file``; the plain key."""
    with _service_extra():
        from solvent.service.keys import KeyStore, Role

    role_name, _, account = spec.partition(":")
    try:
        role = Role(role_name)
    except ValueError:
        raise InvalidInput("a new key is 'operator', 'treasury' or 'account:<account id>'") from None
    with _locked(keys_file):
        store = KeyStore.load(keys_file) if Path(keys_file).exists() else KeyStore()
        plain_key = store.issue(role, account or None)
        store.save(keys_file)
    return plain_key


def revoke_key(key_id: str, keys_file: str) -> tuple[KeyStore, str]:
    """Remove ``key_id`` (or the id of a whole ``slv_<id>_<secret>`` key) from ``keys_file``."""
    with _service_extra():
        from solvent.service.keys import PREFIX, KeyStore

    parts = key_id.split("_", 2)
    if len(parts) == 3 and parts[0] == PREFIX:
        key_id = parts[1]
    with _locked(keys_file):
        store = KeyStore.load(keys_file)
        store.revoke(key_id)
        store.save(keys_file)
    return store, key_id


def _list(keys_file: str) -> list[dict[str, str | None]]:
    with _service_extra():
        from solvent.service.keys import KeyStore
    return [{"key_id": r.key_id, "role": r.role.value, "account_id": r.account_id}
            for r in KeyStore.load(keys_file).records()]


@click.command("keys")
@click.argument("action", type=click.Choice(["new", "list", "revoke"]))
@click.argument("target", required=False, metavar="[ROLE[:ACCOUNT] | KEY_ID]")
@_keys_file
@_json
def keys_cmd(action: str, target: str | None, keys_file: str, as_json: bool) -> None:
    """API keys of `solvent serve`; a running service follows the file within about a second.

    \b
    keys new ROLE[:ACCOUNT]  add a key ('operator', 'treasury' or 'account:ID'), print it once
    keys list                ids, roles, accounts (never a secret or a digest)
    keys revoke KEY_ID       remove a key (its id, the part after 'slv_', or the whole key)
    """
    if action == "list":
        if target is not None:
            raise InvalidInput("keys list takes no argument")
        rows = _list(keys_file)
        if as_json:
            emit_json({"keys": rows})
            return
        for row in rows:
            click.echo(f"{row['key_id']}  {row['role']:<8}  {row['account_id'] or ''}".rstrip())
        return
    if not target:
        raise InvalidInput(f"keys {action} needs {'ROLE[:ACCOUNT]' if action == 'new' else 'KEY_ID'}")
    if action == "new":
        plain_key = issue_key(target, keys_file)
        if as_json:
            emit_json({"key": plain_key})
            return
        click.echo(plain_key)
        return
    store, revoked = revoke_key(target, keys_file)
    if as_json:
        emit_json({"revoked_key_id": revoked, "keys_left": len(store)})
        return
    click.echo(f"revoked key {revoked}; {len(store)} keys left. A running `solvent serve` refuses it "
               "within about a second, without a restart.")
