"""A certificate's ``prior``: the judged account is the one the venue's signed state held just
before the record (``docs/verify.md``, "The account's prior state").

The checks, in order: the account extract verifies (``account.verify_extract``) under a
checkpoint of the same log whose size is the record's seq (it covers records 0 to seq−1); the
consistency proof leads from that checkpoint to the one the certificate's record is proven
under, so both are the same history; the extract is the claimed account's, and its level there
is the claim's ``previous``; neither the record's input nor an event of the record before the
certified one names the account (else the account was changed before it was judged and the
prior state is not the judged one); and the balances and positions the certificate lists are
exactly the extract's (those with a quantity or an amount: zero counts nowhere).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from solvent_verify import VerifyError, shown
from solvent_verify.account import verify_extract
from solvent_verify.note import Checkpoint, VerifierKey, verify_note
from solvent_verify.tlog import check_consistency

__all__ = ["bind_prior", "params_digest_of"]

TLOG = "solvent-tlog-v1"
NAMES_ACCOUNT = ("account_id", "buyer_id", "seller_id", "counterparty")
"""The fields of an input or event that name an account it changes."""
LIQUIDATING = frozenset({"LiquidationStep", "AutoDeleveraged", "LossSocialised", "CollateralConverted",
                         "InsuranceFundChanged"})
"""Events after which a record's level changes are not judged on the state before it (nor,
after a level change, is the state after the record the judged one): a liquidation step also
moves the venue's book or backstop account, which it does not name, and the insurance fund
covering an account's deficit moves the account, named in its ``reason`` only."""
POSITION_FIELDS = ("symbol", "position_side", "qty", "contract_size", "cost", "margin_mode", "isolated_margin")
_HEX32 = re.compile(r"[0-9a-f]{64}")


def params_digest_of(cert: dict[str, Any]) -> str | None:
    """The digest of the parameters the cited ``params`` record put in force (its
    ``ParamsChanged`` event), ``None`` without one (genesis parameters)."""
    if "params" not in cert:
        return None
    record = json.loads(cert["params"]["record"])
    digests = [e.get("digest") for e in record.get("events", []) if isinstance(e, dict)
               and e.get("type") == "ParamsChanged"]
    if len(digests) != 1 or not isinstance(digests[0], str):
        raise VerifyError(f"record {cert['params']['index']} states no parameter digest")
    return digests[0]


def _number(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise VerifyError(f"malformed certificate: {what} is not a number")
    return number


def _consistent(prior: dict[str, Any], before: Checkpoint, checkpoint: Checkpoint) -> None:
    proof = prior.get("consistency")
    if not isinstance(proof, dict) or proof.get("v") != TLOG or not isinstance(proof.get("path"), list):
        raise VerifyError("malformed certificate: prior.consistency")
    path = proof["path"]
    if not all(isinstance(h, str) and _HEX32.fullmatch(h) for h in path):
        raise VerifyError("malformed certificate: a consistency path entry is not 64 lowercase hex digits")
    if (proof.get("origin"), proof.get("size1"), proof.get("size2")) != (checkpoint.origin, before.size,
                                                                           checkpoint.size):
        raise VerifyError("the prior consistency proof is not between the prior checkpoint and the record's")
    check_consistency(before.size, checkpoint.size, before.root, checkpoint.root, [bytes.fromhex(h) for h in path])


def _positions(listed: list[Any]) -> list[tuple[object, ...]]:
    out = []
    if len({(p.get("symbol"), p.get("position_side")) for p in listed if isinstance(p, dict)}) != len(listed):
        raise VerifyError("a position is listed twice")
    for pos in listed:
        if not isinstance(pos, dict) or not all(name in pos for name in POSITION_FIELDS):
            raise VerifyError("malformed certificate: a position")
        if _number(pos["qty"], "a position's qty") == 0:
            continue
        out.append(tuple(_number(pos[n], n) if n in ("qty", "contract_size", "cost", "isolated_margin") else pos[n]
                         for n in POSITION_FIELDS))
    return sorted(out, key=repr)


def bind_prior(cert: dict[str, Any], record: dict[str, Any], checkpoint: Checkpoint, key: VerifierKey,
               seq: int, index: int) -> str:
    """What the certificate's ``prior`` (or ``after``) proves, as a clause of the summary line;
    ``VerifyError`` when it does not hold."""
    after = "after" in cert
    if after and "prior" in cert:
        raise VerifyError("malformed certificate: a prior and an after state")
    part = cert.get("after" if after else "prior")
    name = "after" if after else "prior"
    if not isinstance(part, dict) or set(part) != {"extract", "consistency"}:
        raise VerifyError(f"malformed certificate: {name} holds extract and consistency")
    extract = part["extract"]
    verify_extract(extract, key)
    signed = verify_note(extract["checkpoint"], key)
    size = seq + 1 if after else seq
    if signed.origin != checkpoint.origin or signed.size != size:
        raise VerifyError(f"the {name} state is not the one after record {size - 1} of {shown(checkpoint.origin)}")
    _consistent(part, signed, checkpoint)
    claim = cert["claim"]
    account_id, account = claim["account_id"], extract["account"]
    if extract["account_id"] != account_id:
        raise VerifyError(f"the {name} state is another account's")
    command, events = record.get("input", {} if record.get("kind") == "params" else None), record.get("events")
    if not isinstance(command, dict) or not isinstance(events, list):
        raise VerifyError(f"record {seq} is not a command or params record")
    in_force = params_digest_of(cert)
    at = cert["params"]["index"] if "params" in cert else None
    if (after or at != seq) and extract["document"].get("params") != in_force:  # record `seq` may change them
        raise VerifyError(f"the parameters in force {'after' if after else 'before'} the record are not the ones "
                          "the certificate cites")
    if after:
        _unchanged_after(events, index, account_id, seq)
        if account.get("level") != claim["level"]:
            raise VerifyError(f"the state after the record has level {shown(account.get('level'))}, not "
                              f"{claim['level']}")
    else:
        _unchanged_before(command, events, index, account_id, seq)
        if account.get("level") != claim["previous"]:
            raise VerifyError(f"the prior state's level is {shown(account.get('level'))}, not {claim['previous']}")
    _same_account(cert, account)
    return f"account state as signed after record {size - 1}"


def _unchanged_before(command: dict[str, Any], events: list[Any], index: int, account_id: str, seq: int) -> None:
    if any(isinstance(item, dict) and item.get(name) == account_id for item in (command, *events[:index])
           for name in NAMES_ACCOUNT):
        raise VerifyError(f"record {seq} changes {shown(account_id)} before judging it: the prior state is not the "
                          "judged one")
    if any(isinstance(e, dict) and e.get("type") in LIQUIDATING for e in events[:index]):
        raise VerifyError(f"record {seq} liquidates before this level change: the prior state is not the judged one")


def _unchanged_after(events: list[Any], index: int, account_id: str, seq: int) -> None:
    """No event of the record after the judged one moves the account: none names it (its
    margin call and its orders cancelled aside) and none is a liquidation's."""
    for e in events[index + 1:]:
        if not isinstance(e, dict):
            raise VerifyError(f"malformed record {seq}: an event is not an object")
        if e.get("type") in LIQUIDATING or (e.get("type") not in ("MarginCall", "OrderCancelled") and any(
                e.get(name) == account_id for name in NAMES_ACCOUNT)):
            raise VerifyError(f"record {seq} changes {shown(account_id)} after judging it: the state after the "
                              "record is not the judged one")


def _same_account(cert: dict[str, Any], account: dict[str, Any]) -> None:
    """The balances and positions the certificate lists are the signed account's."""
    held = account.get("balances")
    if not isinstance(held, dict):
        raise VerifyError("malformed extract: balances")
    signed = {asset: _number(v, f"balance of {shown(asset)}") for asset, v in held.items()}
    lines = cert.get("collateral")
    if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
        raise VerifyError("malformed certificate: collateral")
    listed = {x.get("asset"): _number(x.get("balance"), "a balance") for x in lines}
    if len(listed) != len(lines):
        raise VerifyError("the wallet lists an asset twice")
    if {a: v for a, v in signed.items() if v} != {a: v for a, v in listed.items() if v}:
        raise VerifyError("the wallet listed is not the one the signed state holds")
    entries = account.get("positions")
    if entries == {}:  # the state's encoding of no positions at all (a map keyed by symbol and side, empty)
        entries = []
    if not isinstance(entries, list) or not all(isinstance(e, list) and len(e) == 2 for e in entries):
        raise VerifyError("malformed extract: positions")
    listed_positions = cert.get("positions")
    if not isinstance(listed_positions, list):
        raise VerifyError("malformed certificate: positions")
    if _positions([e[1] for e in entries]) != _positions(listed_positions):
        raise VerifyError("the positions listed are not the ones the signed state holds")

