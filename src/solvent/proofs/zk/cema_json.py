"""The files of a CEMA proof (``cema``): the public proof anyone verifies and the private
openings its holder keeps. Points and scalars are hex (scalars 64 digits, big-endian); decimals
are plain strings. The reader is strict: an unknown or missing field, a point that is not
canonical ristretto255, a scalar not below ℓ are refused with the field named.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from solvent.errors import InvalidInput
from solvent.jsonstrict import json_list, json_object
from solvent.proofs.zk.cema import (
    CEMA_FORMAT,
    CollateralTerm,
    Commitments,
    Openings,
    PositionTerm,
    Proof,
    Statement,
    Witness,
)
from solvent.proofs.zk.group import HEX_64, ORDER, point
from solvent.proofs.zk.rangeproof import RangeProof
from solvent.proofs.zk.sigma import OrProof
from solvent.units import to_decimal

__all__ = ["OPENINGS_FORMAT", "HolderFile", "openings_from_json", "openings_to_json", "proof_from_json",
           "proof_to_json"]

OPENINGS_FORMAT = "solvent-cema-openings-v1"
_WHOLE = re.compile(r"-?(0|[1-9][0-9]{0,39})")
_GROUPS = ("collateral", "qty", "cost", "abs")


def _hex(k: int) -> str:
    return f"{k:064x}"


def _or_json(p: OrProof) -> list[str]:
    return [_hex(p.e0), _hex(p.e1), _hex(p.z0), _hex(p.z1)]


def _range_json(r: RangeProof) -> dict[str, Any]:
    return {"bits": [b.hex() for b in r.bits], "proofs": [_or_json(p) for p in r.proofs]}


def proof_to_json(proof: Proof) -> dict[str, Any]:
    c = proof.commitments
    return {"format": CEMA_FORMAT, "statement": proof.statement.to_json(),
            "commitments": {name: [p.hex() for p in getattr(c, name)] for name in _GROUPS},
            "abs_proofs": [{"or": _or_json(o), "range": _range_json(r),
                            "tier_floor": None if t[0] is None else _range_json(t[0]),
                            "tier_cap": None if t[1] is None else _range_json(t[1])}
                           for o, r, t in zip(proof.abs_or, proof.abs_range, proof.tiers, strict=True)],
            "excess_proof": _range_json(proof.excess_range),
            "value_proofs": [_range_json(r) for r in proof.values]}


@dataclass(frozen=True, slots=True)
class HolderFile:
    """What the holder's openings file holds: the statement it belongs to, the pseudonym's salt,
    the values and their blinding factors."""

    checkpoint: str
    account: str
    salt: str
    witness: Witness
    openings: Openings


def openings_to_json(proof: Proof, w: Witness, o: Openings, salt: str) -> dict[str, Any]:
    st = proof.statement
    return {"format": OPENINGS_FORMAT, "checkpoint": st.checkpoint, "account": st.account, "salt": salt,
            "values": {"collateral": [str(v) for v in w.collateral], "qty": [str(v) for v in w.qty],
                       "cost": [str(v) for v in w.cost]},
            "blindings": {name: [_hex(r) for r in getattr(o, name)] for name in _GROUPS}}


def _scalar(raw: object, where: str) -> int:
    if not isinstance(raw, str) or not HEX_64.fullmatch(raw):
        raise InvalidInput(f"{where}: a scalar is 64 lowercase hex digits")
    value = int(raw, 16)
    if value >= ORDER:
        raise InvalidInput(f"{where}: a scalar must be below the group order")
    return value


def _text(raw: object, where: str) -> str:
    if not isinstance(raw, str) or not raw:
        raise InvalidInput(f"{where} must be a non-empty string")
    return raw


def _or(raw: object, where: str) -> OrProof:
    items = json_list(raw, where)
    if len(items) != 4:
        raise InvalidInput(f"{where}: an OR proof is four scalars")
    e0, e1, z0, z1 = (_scalar(v, f"{where}[{i}]") for i, v in enumerate(items))
    return OrProof(e0, e1, z0, z1)


def _range(raw: object, where: str) -> RangeProof:
    body = json_object(raw, where, {"bits", "proofs"})
    bits = json_list(body["bits"], f"{where}.bits")
    return RangeProof(tuple(point(p, f"{where}.bits[{i}]") for i, p in enumerate(bits)),
                      tuple(_or(p, f"{where}.proofs[{i}]") for i, p in enumerate(json_list(body["proofs"],
                                                                                          f"{where}.proofs"))))


def _statement(raw: object) -> Statement:
    body = json_object(raw, "statement", {"checkpoint", "account", "claim", "money_unit", "bits", "collateral",
                                          "positions", "scope"})
    bits = body["bits"]
    if not isinstance(bits, int) or isinstance(bits, bool):
        raise InvalidInput("statement.bits must be a whole number")
    coll = []
    for i, c in enumerate(json_list(body["collateral"], "statement.collateral")):
        where = f"statement.collateral[{i}]"
        item = json_object(c, where, {"asset", "price", "haircut", "unit"})
        coll.append(CollateralTerm(_text(item["asset"], f"{where}.asset"), to_decimal(item["price"], f"{where}.price"),
                                   to_decimal(item["haircut"], f"{where}.haircut"),
                                   to_decimal(item["unit"], f"{where}.unit")))
    positions = []
    for i, p in enumerate(json_list(body["positions"], "statement.positions")):
        where = f"statement.positions[{i}]"
        item = json_object(p, where, {"symbol", "mark", "lot", "mm_rate", "maint_amount", "tier_floor", "tier_cap",
                                      "basis", "side"})
        cap = item["tier_cap"]
        positions.append(PositionTerm(_text(item["symbol"], f"{where}.symbol"),
                                      to_decimal(item["mark"], f"{where}.mark"),
                                      to_decimal(item["lot"], f"{where}.lot"),
                                      to_decimal(item["mm_rate"], f"{where}.mm_rate"),
                                      to_decimal(item["maint_amount"], f"{where}.maint_amount"),
                                      to_decimal(item["tier_floor"], f"{where}.tier_floor"),
                                      None if cap is None else to_decimal(cap, f"{where}.tier_cap"),
                                      _text(item["basis"], f"{where}.basis"), _text(item["side"], f"{where}.side")))
    st = Statement(_text(body["checkpoint"], "statement.checkpoint"), _text(body["account"], "statement.account"),
                   _text(body["claim"], "statement.claim"), to_decimal(body["money_unit"], "statement.money_unit"),
                   tuple(coll), tuple(positions), bits, _text(body["scope"], "statement.scope"))
    st.check()
    return st


def proof_from_json(doc: object) -> Proof:
    body = json_object(doc, "proof", {"format", "statement", "commitments", "abs_proofs", "excess_proof",
                                      "value_proofs"})
    if body["format"] != CEMA_FORMAT:
        raise InvalidInput(f"proof: format {body['format']!r} is not {CEMA_FORMAT}")
    st = _statement(body["statement"])
    cs = json_object(body["commitments"], "commitments", set(_GROUPS))
    c = Commitments(*(tuple(point(p, f"commitments.{name}[{i}]") for i, p in enumerate(json_list(cs[name],
                                                                                              f"commitments.{name}")))
                      for name in _GROUPS))
    pairs = [json_object(a, f"abs_proofs[{i}]", {"or", "range", "tier_floor", "tier_cap"})
             for i, a in enumerate(json_list(body["abs_proofs"], "abs_proofs"))]

    def optional(raw: object, where: str) -> RangeProof | None:
        return None if raw is None else _range(raw, where)

    return Proof(st, c, tuple(_or(a["or"], f"abs_proofs[{i}].or") for i, a in enumerate(pairs)),
                 tuple(_range(a["range"], f"abs_proofs[{i}].range") for i, a in enumerate(pairs)),
                 _range(body["excess_proof"], "excess_proof"),
                 tuple((optional(a["tier_floor"], f"abs_proofs[{i}].tier_floor"),
                        optional(a["tier_cap"], f"abs_proofs[{i}].tier_cap")) for i, a in enumerate(pairs)),
                 tuple(_range(r, f"value_proofs[{i}]") for i, r in enumerate(json_list(body["value_proofs"],
                                                                                      "value_proofs"))))


def openings_from_json(doc: object) -> HolderFile:
    body = json_object(doc, "openings", {"format", "checkpoint", "account", "salt", "values", "blindings"})
    if body["format"] != OPENINGS_FORMAT:
        raise InvalidInput(f"openings: format {body['format']!r} is not {OPENINGS_FORMAT}")
    values = json_object(body["values"], "openings.values", {"collateral", "qty", "cost"})
    blind = json_object(body["blindings"], "openings.blindings", set(_GROUPS))

    def ints(name: str) -> tuple[int, ...]:
        out = []
        for i, v in enumerate(json_list(values[name], f"openings.values.{name}")):
            if not isinstance(v, str) or not _WHOLE.fullmatch(v):
                raise InvalidInput(f"openings.values.{name}[{i}] must be a whole number as a string (at most 40 "
                                   "digits)")
            out.append(int(v))
        return tuple(out)

    return HolderFile(_text(body["checkpoint"], "openings.checkpoint"), _text(body["account"], "openings.account"),
                      _text(body["salt"], "openings.salt"), Witness(ints("collateral"), ints("qty"), ints("cost")),
                      Openings(*(tuple(_scalar(r, f"openings.blindings.{name}[{i}]")
                                       for i, r in enumerate(json_list(blind[name], f"openings.blindings.{name}")))
                                 for name in _GROUPS)))
