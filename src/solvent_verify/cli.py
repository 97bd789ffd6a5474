"""``solvent-verify``: exit 0 when the check passes, 1 with a one-line reason when it fails,
2 when the input cannot be read or an argument is malformed."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from solvent_verify import VerifyError, shown
from solvent_verify.account import verify_extract
from solvent_verify.certificate import verify_certificate
from solvent_verify.note import VerifierKey, parse_vkey, verify_note
from solvent_verify.pol import ProofLacks, check_pol, expected_from
from solvent_verify.tlog import check_consistency, leaf_hash, root_from_inclusion

__all__ = ["main"]

TLOG = "solvent-tlog-v1"
_HEX32 = re.compile(r"[0-9a-f]{64}")
_ROOT = re.compile(r"[0-9a-fA-F]{64}")
POL_REASONS = {
    "root hash": "the path from this leaf does not lead to the proof's root hash",
    "root values": "the path's sums do not give the proof's root totals",
    "not the published root": "the proof's root is not the root you gave (--root)",
    "not my balances": "the leaf's values are not the balances you expect (--expect)",
    "snapshot_id": "the snapshot id is not the hash of the header",
    "shape": "the proof's height, index, path length or value counts do not fit together",
    "version": "not a solvent-pol-v1 proof",
    "leaf range": "a leaf value is 2^64 or more",
    "sibling range": "a sibling value is 2^128 or more",
    "overflow": "a sum reaches 2^128",
}


class _Unreadable(Exception):
    pass


def _text(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _Unreadable(f"{path}: cannot be read ({type(exc).__name__})") from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose names are each given once (a name twice is two readings of one file)."""
    out: dict[str, Any] = {}
    for name, value in pairs:
        if name in out:
            raise ValueError(f"the name {json.dumps(name)} appears twice in one object")
        out[name] = value
    return out


def _json(path: str) -> Any:
    try:
        return json.loads(_text(path), object_pairs_hook=_unique)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"{path}: not JSON ({exc.msg}: line {exc.lineno} column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # a name twice, a number too long, nesting too deep
        raise _Unreadable(f"{path}: not readable JSON ({str(exc)[:120] or type(exc).__name__})") from None


def _key(value: str) -> VerifierKey:
    """A verifier key given literally, or the path of a file holding one (bad input if neither)."""
    if not value:
        raise _Unreadable("--key is empty: give the venue's verifier key, or a file holding it")
    text = value if "+" in value and not Path(value).exists() else _text(value)
    try:
        return parse_vkey(text)
    except VerifyError as bad:
        raise _Unreadable(f"--key {value}: {bad}") from None


def _hashes(raw: Any) -> list[bytes]:
    if not isinstance(raw, list) or not all(isinstance(h, str) and _HEX32.fullmatch(h) for h in raw):
        raise VerifyError("malformed proof: a path entry is not 64 lowercase hex digits")
    return [bytes.fromhex(h) for h in raw]


def _int(proof: Any, name: str) -> int:
    value = proof.get(name) if isinstance(proof, dict) else None
    if type(value) is not int:
        raise VerifyError(f"malformed proof: {name}")
    return value


def _checkpoint(args: argparse.Namespace) -> str:
    cp = verify_note(_text(args.file), _key(args.key))
    return f"ok: {shown(cp.origin)} size {cp.size} root {cp.root.hex()}"


def _inclusion(args: argparse.Namespace) -> str:
    parsed, index, origin, size = _included(_json(args.file), _key(args.key))
    return f"ok: record {index} ({shown(parsed.get('kind'))}) is in {shown(origin)} at size {size}"


def _included(proof: Any, key: VerifierKey) -> tuple[dict[str, Any], int, str, int]:
    """The record a ``solvent-tlog-v1`` inclusion proof holds, once it leads to its signed
    checkpoint's root: the record, its index, the log's origin and the checkpoint's size."""
    if not isinstance(proof, dict) or proof.get("v") != TLOG:
        raise VerifyError("not a solvent-tlog-v1 proof")
    note, record = proof.get("checkpoint"), proof.get("record")
    if not isinstance(note, str) or not isinstance(record, str):
        raise VerifyError("malformed proof: checkpoint or record")
    cp = verify_note(note, key)
    size, index = _int(proof, "size"), _int(proof, "index")
    if proof.get("origin") != cp.origin or size != cp.size:
        raise VerifyError("the proof names another log or size than its checkpoint")
    if root_from_inclusion(index, size, leaf_hash(record.encode()), _hashes(proof.get("path"))) != cp.root:
        raise VerifyError(f"record {index} is not in the signed journal")
    try:
        parsed = json.loads(record)
    except json.JSONDecodeError:
        raise VerifyError("the record is not JSON") from None
    if not isinstance(parsed, dict) or parsed.get("seq") != index:
        raise VerifyError(f"the record does not say it is record {index}")
    return parsed, index, cp.origin, size


def _consistency(args: argparse.Namespace) -> str:
    proof = _json(args.file)
    if not isinstance(proof, dict) or proof.get("v") != TLOG:
        raise VerifyError("not a solvent-tlog-v1 proof")
    key = _key(args.key)
    old, new = verify_note(_text(args.old), key), verify_note(_text(args.new), key)
    size1, size2 = _int(proof, "size1"), _int(proof, "size2")
    if not old.origin == new.origin == proof.get("origin") or (size1, size2) != (old.size, new.size):
        raise VerifyError("the proof is not between these two checkpoints")
    check_consistency(size1, size2, old.root, new.root, _hashes(proof.get("path")))
    return f"ok: size {size1} is a prefix of size {size2}"


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except (OSError, ValueError) as exc:
        raise _Unreadable(f"{path}: cannot be read ({type(exc).__name__})") from None


def _profile(path: str) -> tuple[bytes, object, Callable[[str], bytes]]:
    """The profile file's bytes, its JSON and a reader of the files beside it (bad input if unreadable)."""
    data = _bytes(Path(path))
    try:
        doc = json.loads(data, parse_float=Decimal, object_pairs_hook=_unique)
    except (ValueError, RecursionError) as exc:
        raise _Unreadable(f"{path}: not JSON ({type(exc).__name__})") from None
    return data, doc, lambda name: _bytes(Path(path).parent / name)


def _certificate(args: argparse.Namespace) -> str:
    profile = None if args.profile is None else _profile(args.profile)
    return verify_certificate(_json(args.file), _key(args.key), profile)


def _account(args: argparse.Namespace) -> str:
    return verify_extract(_json(args.file), _key(args.key))


def _pol(args: argparse.Namespace) -> str:
    if not _ROOT.fullmatch(args.root):
        raise _Unreadable(f"--root {shown(args.root)}: not a root hash (64 hex digits)")
    proof = _json(args.file)
    _pol_holds(proof, args.root, None)  # the proof on its own first: a malformed header is the proof's fault
    if args.expect is not None:
        statement = _json(args.expect)
        if not isinstance(statement, dict) or not isinstance(proof, dict):
            raise _Unreadable(f"{args.expect}: expected an object mapping each asset to [equity, debt]")
        try:
            expected = expected_from(statement, proof)
        except ProofLacks as lacking:
            raise VerifyError(f"not my balances: {lacking}") from None
        except ValueError as bad:
            raise _Unreadable(f"{args.expect}: {bad}") from None
        _pol_holds(proof, args.root, expected)
    published = ""
    if args.key is not None and args.record is None:
        raise _Unreadable("--key goes with --record (the proof the root was published in the journal)")
    if args.record is not None:
        if args.key is None:
            raise _Unreadable("--record needs --key, the venue's verifier key")
        published = _published(proof, _json(args.record), _key(args.key))
    return f"ok: {shown(proof['leaf']['account_id'])} included in {shown(proof['root']['hash'])}{published}"


def _pol_holds(proof: Any, root: str, expected: list[tuple[int, int]] | None) -> None:
    ok, reason = check_pol(proof, root, expected)
    if not ok:
        explained = POL_REASONS.get(reason)
        raise VerifyError(f"{reason}: {explained}" if explained else reason)


def _published(proof: dict[str, Any], inclusion: Any, key: VerifierKey) -> str:
    """The root is the one the venue published in its signed journal: the inclusion proof of a
    ``pol_snapshot`` record whose header, snapshot id and root hash are the proof's."""
    record, index, origin, size = _included(inclusion, key)
    if record.get("kind") != "pol_snapshot":
        raise VerifyError(f"record {index} is not a pol_snapshot record")
    root = record.get("root")
    if (record.get("header") != proof.get("header") or record.get("snapshot_id") != proof.get("snapshot_id")
            or not isinstance(root, dict) or root.get("hash") != proof["root"].get("hash")
            or root.get("values") != proof["root"].get("values")):
        raise VerifyError(f"the root published at record {index} is not this proof's: another snapshot, or a "
                          "different root shown to you than to others")
    return f"; the root the journal of {shown(origin)} publishes at record {index} (checkpoint size {size})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="solvent-verify", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    key_help = "the venue's verifier key, or a file holding it"
    one = sub.add_parser("checkpoint", help="a signed checkpoint")
    one.add_argument("file")
    one.add_argument("--key", required=True, help=key_help)
    one.set_defaults(run=_checkpoint)
    one = sub.add_parser("inclusion", help="a record's inclusion proof under its checkpoint")
    one.add_argument("file")
    one.add_argument("--key", required=True, help=key_help)
    one.set_defaults(run=_inclusion)
    one = sub.add_parser("consistency", help="a consistency proof between two checkpoints")
    one.add_argument("file")
    one.add_argument("--old", required=True, help="the earlier checkpoint")
    one.add_argument("--new", required=True, help="the later checkpoint")
    one.add_argument("--key", required=True, help=key_help)
    one.set_defaults(run=_consistency)
    one = sub.add_parser("certificate", help="a margin-call or liquidation certificate")
    one.add_argument("file")
    one.add_argument("--key", required=True, help=key_help)
    one.add_argument("--profile", default=None,
                     help="the venue profile file (e.g. binance-usdm.json): check it is the one the journal ran on and "
                          "that the certificate's trigger, MM basis and tier tables are its")
    one.set_defaults(run=_certificate)
    one = sub.add_parser("account", help="an account extract: one account's state under a signed checkpoint")
    one.add_argument("file")
    one.add_argument("--key", required=True, help=key_help)
    one.set_defaults(run=_account)
    one = sub.add_parser("pol", help="a proof-of-liabilities inclusion proof")
    one.add_argument("file")
    one.add_argument("--root", required=True, help="the published root hash (hex)")
    one.add_argument("--expect", default=None, help="JSON {asset: [equity, debt]}: the balances you expect")
    one.add_argument("--record", default=None,
                     help="the inclusion proof of the journal's pol_snapshot record (pol-record.json): check the root "
                          "is the one the venue published to everyone")
    one.add_argument("--key", default=None, help=key_help + " (with --record)")
    one.set_defaults(run=_pol)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:  # argparse printed the usage error
        return int(exit_.code or 0)
    try:
        print(args.run(args))
    except _Unreadable as bad:
        print(f"error: {bad}", file=sys.stderr)
        return 2
    except VerifyError as failed:
        print(f"failed: {failed}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as odd:
        print(f"failed: malformed input ({type(odd).__name__}: {odd})", file=sys.stderr)
        return 1
    return 0
