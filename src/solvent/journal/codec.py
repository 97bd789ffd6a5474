"""Canonical encoding of journal records, commands and the engine configuration.

A record is one line of compact JSON (``separators=(",", ":")``, ASCII only, fields in the
fixed order below, no floats). Decimals are strings exactly as ``str(Decimal)`` writes them.
``docs/journal.md`` is the normative description; in short::

    {"v":1,"seq":0,"kind":"genesis","format":"solvent-journal","config":{...}}
    {"v":1,"seq":N,"kind":"command","input":{"type":"Deposit","account_id":"a",...},"events":[...]}
    {"v":1,"seq":N,"kind":"params","config":{...},"events":[...]}
    {"v":2,"seq":N,"kind":"command" or "params",...,"events":[...],"request":{"key":"...","scope":"..."}}
    {"v":3,"seq":N,"kind":"checkpoint","size":N,"mth":"<64 hex>","chain_head":"<64 hex>",
     "state_hash":"<64 hex>","compact_range":["<64 hex>",...]}
    {"v":1,"seq":N,"kind":"pol_snapshot","header":{...},"snapshot_id":"<64 hex>","root":{...}}

A params record is a ``ChangeParams`` (``engine/params.py``): the whole configuration in
force from there on, encoded as the genesis record's is, with the events it caused.

A checkpoint record changes nothing; it binds into the chain the RFC 9162 tree head ``mth`` of
the records before it (seq 0 to N-1, the same leaves a signed checkpoint covers), the chain
head ``H_{N-1}`` and the engine's state hash after record N-1, as ``verifiability.md`` §4.3
specifies; ``compact_range`` is the tree's right edge (one subtree root per set bit of N, left
to right) from which ``mth`` is computed, so that a reader starting at this record (recovery
from the snapshot taken at its seq) extends the tree without reading what came before. A
snapshot is taken at a checkpoint's seq (recovery trusts a snapshot only if its state hash is
the one its checkpoint record holds). Version 1 checkpoints (``{"v":1,...,"state_hash"}``,
written before tree heads were) and journals written before checkpoints existed stay readable.

``decode_record`` accepts only bytes that re-encode to themselves, so two different byte
strings never decode to the same record.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from solvent import jsonstrict
from solvent.engine import commands as c
from solvent.engine.config import EngineConfig, LiquidationPolicy
from solvent.engine.core import CommandResult
from solvent.engine.events import event_to_json
from solvent.engine.liquidity import BookDepth, LiquidityModel, SquareRootImpact
from solvent.errors import InvalidInput
from solvent.journal._typed import CodecError, decode_dataclass, decode_value, encode_value, hints_of
from solvent.journal.tlog import CompactRange
from solvent.risk.overlays import overlay_dir
from solvent.risk.venues import (
    VenueProfile,
    bundled_profile_at,
    bundled_sha256,
    bundled_venues,
    kept_profile_file,
    kept_sha256,
    load_venue,
    load_venue_overlay,
)

__all__ = [
    "CHECKPOINT_VERSION",
    "COMMAND_TYPES",
    "FORMAT",
    "REQUEST_VERSION",
    "STREAM_SCOPE",
    "VERSION",
    "CheckpointHead",
    "CodecError",
    "Record",
    "RequestKey",
    "canonical_json",
    "checkpoint_record",
    "command_record",
    "decode_command",
    "decode_config",
    "decode_profile",
    "decode_record",
    "decode_request",
    "encode_command",
    "encode_config",
    "encode_profile",
    "genesis_record",
    "journalable_params",
    "loads_strict",
    "log_position",
    "params_record_digest",
    "pol_snapshot_record",
    "recorded_request_body",
    "request_body",
]

VERSION = 1
FORMAT = "solvent-journal"
REQUEST_VERSION = 2
"""The version of a command or params record that also carries the client's ``request`` (its
idempotency key, ``RequestKey``): written only for a command submitted with one, so every
other record, and every journal written before, stays version 1 byte for byte."""

CHECKPOINT_VERSION = 3
"""The version of a checkpoint record with its tree head, chain head and compact range
(version 1 checkpoints hold the state hash only)."""

COMMAND_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (c.Deposit, c.Withdraw, c.FundInsurance, c.PlaceOrder, c.CancelOrder, c.Fill, c.PriceUpdate,
                c.PremiumSample, c.AdvanceTime, c.SetLeverage, c.SetMarginMode, c.AddIsolatedMargin,
                c.RemoveIsolatedMargin)
}
_LIQUIDITY_TYPES: dict[str, type] = {"SquareRootImpact": SquareRootImpact, "BookDepth": BookDepth}


STREAM_SCOPE = "stream:"
"""The scope of a request key that is a log position, not a caller's key: a replica (and
``solvent serve --cluster``) journals each command of the venue's log with ``stream:<STREAM>``
and the message's sequence (``cluster/replica.py``). A caller's scope is its API key's id."""


def log_position(request: RequestKey) -> tuple[int, str | None]:
    """The stream sequence, and the message id if recorded, of a command journaled from a
    venue's log (scope ``STREAM_SCOPE``): its key is ``"<seq>"`` or ``"<seq> <message id>"``."""
    seq, _, msg_id = request.key.partition(" ")
    return int(seq), msg_id or None


@dataclass(frozen=True, slots=True)
class RequestKey:
    """A client's idempotency key and the caller it belongs to (``scope``: the service's key
    id): journaled with the command it first submitted, so a retry with the same key, even
    after a restart, gets the first answer instead of applying the command again."""

    scope: str
    key: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "scope": self.scope}


@dataclass(frozen=True, slots=True)
class CheckpointHead:
    """What a version 3 checkpoint record binds besides the state hash: the records before it."""

    size: int
    mth: str
    chain_head: str
    compact_range: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Record:
    """A decoded record. ``input`` is ``None`` for the genesis record (seq 0) and checkpoints;
    ``state_hash`` is set for checkpoints only."""

    seq: int
    kind: str
    input: c.Command | None
    events: tuple[dict[str, Any], ...]
    config: dict[str, Any] | None
    payload: bytes
    state_hash: str | None = None
    request: RequestKey | None = None
    """The idempotency key the command was submitted with (version 2 records only)."""
    head: CheckpointHead | None = None
    """The tree and chain heads a version 3 checkpoint binds (``None`` on other records)."""
    pol: dict[str, Any] | None = None
    """A ``pol_snapshot`` record's ``header``, ``snapshot_id`` and ``root`` (``None`` on others)."""


_REQUEST_KINDS = frozenset({"command", "params"})
"""The record kinds a version 2 record (one carrying its idempotency key) may be."""


_CANONICAL = json.JSONEncoder(separators=(",", ":"), ensure_ascii=True, allow_nan=False)
"""``json.dumps`` with these arguments builds this encoder on every call (a third of the cost
of encoding a small record); an encoder holds no state between calls."""


def canonical_json(obj: Any) -> bytes:
    """Compact ASCII JSON in the dicts' own key order; NaN and floats refused."""
    return _CANONICAL.encode(obj).encode("ascii")


def loads_strict(data: bytes) -> Any:
    """A journal record, snapshot or configuration: ASCII (canonical JSON is), then read by
    ``jsonstrict.loads_strict``, the one home of strict JSON reading (floats, NaN/Infinity,
    duplicate keys and deep nesting refused); ``CodecError`` with its reason."""
    if not data.isascii():
        raise CodecError("not canonical JSON: a byte above 0x7F (canonical records are ASCII)")
    try:
        return jsonstrict.loads_strict(data, "journal record")
    except InvalidInput as exc:
        raise CodecError(f"not canonical JSON: {exc}") from None


def encode_command(cmd: c.Command) -> dict[str, Any]:
    """``{"type": ClassName, field: value, ...}``: every field, in declaration order."""
    name = type(cmd).__name__
    if COMMAND_TYPES.get(name) is not type(cmd):
        raise CodecError(f"not a command: {name}")
    out: dict[str, Any] = {"type": name}
    for f in dataclasses.fields(cmd):
        out[f.name] = encode_value(getattr(cmd, f.name))
    return out


def decode_command(raw: Any) -> c.Command:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise CodecError("a command must be an object with a string 'type'")
    cls = COMMAND_TYPES.get(raw["type"])
    if cls is None:
        raise CodecError(f"unknown command type {raw['type']!r}")
    body = {k: v for k, v in raw.items() if k != "type"}
    cmd: c.Command = decode_dataclass(body, cls, f"$.input({raw['type']})")
    return cmd


def journalable_params(cmd: c.ChangeParams) -> dict[str, Any]:
    """The configuration of a parameter change as its record holds it; ``CodecError`` when
    replay could not rebuild it from that (a profile neither bundled nor a stored dated
    overlay: the record names a profile, it does not hold one)."""
    raw = encode_config(cmd.config)
    try:
        same = decode_config(raw) == cmd.config
    except CodecError:
        same = False
    if not same:
        raise CodecError(f"a parameter change is journaled by the profile's name: {cmd.config.profile.name!r} "
                         "must be a bundled profile as shipped or a dated overlay of one (solvent venues update)")
    return raw


def params_record_digest(raw: dict[str, Any]) -> str:
    """The digest that names a configuration in the state: SHA-256 of a ``params`` record's
    ``config`` as recorded (canonical JSON; decoded and re-encoded by a later solvent, a
    configuration with more fields would hash differently, its record does not)."""
    return hashlib.sha256(canonical_json(raw)).hexdigest()


def command_record(seq: int, cmd: c.Command, result: CommandResult, request: RequestKey | None = None) -> bytes:
    """The canonical bytes of the record for an accepted command and its events (and the
    idempotency key it came with, if any: a version 2 record). A ``ChangeParams`` is a
    ``params`` record (version 2 too when it came with a key)."""
    body: dict[str, Any] = {"v": VERSION if request is None else REQUEST_VERSION, "seq": seq}
    if isinstance(cmd, c.ChangeParams):
        body.update(kind="params", config=journalable_params(cmd))
    else:
        body.update(kind="command", input=encode_command(cmd))
    body["events"] = [event_to_json(e) for e in result.events]
    if request is not None:
        body["request"] = request.to_json()
    return canonical_json(body)


def request_body(cmd: c.Command) -> dict[str, Any]:
    """What a retry under the same idempotency key must submit again: the command as its record
    holds it (``encode_command``; a parameter change, its ``journalable_params``). The one home
    of that identity: the service compares a retry with it, and rebuilds it from the journal
    (``recorded_request_body``)."""
    if isinstance(cmd, c.ChangeParams):
        return {"type": "ChangeParams", "config": journalable_params(cmd)}
    return encode_command(cmd)


def recorded_request_body(record: dict[str, Any]) -> dict[str, Any]:
    """``request_body`` of the command a record (parsed as JSON) journaled."""
    if record.get("kind") == "params":
        return {"type": "ChangeParams", "config": record.get("config")}
    body: dict[str, Any] = record.get("input") or {}
    return body


def _request(raw: Any) -> RequestKey:
    if not isinstance(raw, dict) or list(raw) != ["key", "scope"] or not all(
            isinstance(v, str) and v for v in raw.values()):
        raise CodecError("request must be an object with non-empty string key and scope")
    return RequestKey(raw["scope"], raw["key"])


def decode_request(record: dict[str, Any]) -> RequestKey:
    """The ``request`` of a command record already parsed as JSON (a version 2 record, and
    only those, carries one): for readers that skip ``decode_record``'s full check."""
    if record.get("v") != REQUEST_VERSION or record.get("kind") not in _REQUEST_KINDS or "request" not in record:
        raise CodecError(f"a request belongs in a version {REQUEST_VERSION} command or params record, and such a "
                         "record must carry one")
    return _request(record["request"])


def genesis_record(config: EngineConfig) -> bytes:
    return canonical_json({"v": VERSION, "seq": 0, "kind": "genesis", "format": FORMAT,
                           "config": encode_config(config)})


def checkpoint_record(seq: int, state_hash: str, tree: CompactRange, chain_head: str) -> bytes:
    """The canonical bytes of a checkpoint at ``seq``: ``tree`` holds records 0 to ``seq - 1``
    (whose last chain hash is ``chain_head``) and ``state_hash`` is the state after them."""
    if tree.size != seq:
        raise ValueError(f"a checkpoint at seq {seq} covers {seq} records, the tree holds {tree.size}")
    return canonical_json({"v": CHECKPOINT_VERSION, "seq": seq, "kind": "checkpoint", "size": seq,
                           "mth": tree.root().hex(), "chain_head": chain_head, "state_hash": state_hash,
                           "compact_range": [peak.hex() for peak in tree.peaks]})


_CHECKPOINT_FIELDS = ["v", "seq", "kind", "size", "mth", "chain_head", "state_hash", "compact_range"]
_POL_FIELDS = ["v", "seq", "kind", "header", "snapshot_id", "root"]


def pol_snapshot_record(seq: int, header: dict[str, Any], snapshot_id: str, root: dict[str, Any]) -> bytes:
    """The canonical bytes of a ``pol_snapshot`` record at ``seq``: a proof of liabilities'
    header (of the state after record ``seq − 1``), its snapshot id and its root (hash and
    values), published in the journal so that the signed checkpoints after it show every holder
    the same root (``proofs/liabilities.py`` makes it, ``docs/liabilities.md``)."""
    return canonical_json({"v": VERSION, "seq": seq, "kind": "pol_snapshot", "header": header,
                           "snapshot_id": snapshot_id, "root": root})


def _checkpoint_head(raw: dict[str, Any], seq: int) -> CheckpointHead:
    """The heads of a version 3 checkpoint, checked: the compact range has one root per set bit
    of the size and leads to ``mth``."""
    if list(raw) != _CHECKPOINT_FIELDS or seq < 1 or type(raw["size"]) is not int or raw["size"] != seq:
        raise CodecError(f"version {CHECKPOINT_VERSION} checkpoint record fields must be "
                         f"{', '.join(_CHECKPOINT_FIELDS)}, with seq >= 1 and size equal to seq")
    peaks = raw["compact_range"]
    if not all(_is_hex_digest(raw[name]) for name in ("mth", "chain_head", "state_hash")) or not (
            isinstance(peaks, list) and all(_is_hex_digest(p) for p in peaks)):
        raise CodecError("checkpoint mth, chain_head, state_hash and compact_range entries must be 64 "
                         "lowercase hex")
    if len(peaks) != seq.bit_count():
        raise CodecError(f"a compact range of {seq} records has {seq.bit_count()} roots, this one {len(peaks)}")
    if CompactRange(seq, [bytes.fromhex(p) for p in peaks]).root().hex() != raw["mth"]:
        raise CodecError("the compact range does not lead to the checkpoint's mth")
    return CheckpointHead(seq, raw["mth"], raw["chain_head"], tuple(peaks))


def _is_hex_digest(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(ch in "0123456789abcdef" for ch in value)


def readable_genesis(payload: bytes) -> None:
    """``InvalidInput`` unless ``payload`` (``genesis_record``) decodes back to a configuration:
    a setting of the wrong type (a flag ``"no"``, a book level ``[1]``) is written as it is, and
    the journal could then never be reopened (found by review)."""
    try:
        record = decode_record(payload)
        if record.config is None:
            raise CodecError("not a genesis record")
        decode_config(record.config)
    except InvalidInput as exc:  # ``CodecError`` among them
        raise InvalidInput(f"EngineConfig: the journal could not record this configuration: {exc}") from None


def decode_record(payload: bytes) -> Record:
    """Decode and check one record; ``CodecError`` says what is wrong."""
    raw = loads_strict(payload)
    if not isinstance(raw, dict):
        raise CodecError("a record must be a JSON object")
    version = raw.get("v")
    if version not in (VERSION, REQUEST_VERSION, CHECKPOINT_VERSION) or isinstance(version, bool):
        raise CodecError(f"unsupported record version {version!r} (this reader knows {VERSION}, "
                         f"{REQUEST_VERSION} and {CHECKPOINT_VERSION})")
    if version == REQUEST_VERSION and raw.get("kind") not in _REQUEST_KINDS:
        raise CodecError(f"a version {REQUEST_VERSION} record must be a command or params record")
    if version == CHECKPOINT_VERSION and raw.get("kind") != "checkpoint":
        raise CodecError(f"a version {CHECKPOINT_VERSION} record must be a checkpoint record")
    seq = raw.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise CodecError("seq must be a non-negative integer")
    kind = raw.get("kind")
    if kind == "genesis":
        keys = ["v", "seq", "kind", "format", "config"]
        if list(raw) != keys or raw["format"] != FORMAT or seq != 0 or not isinstance(raw["config"], dict):
            raise CodecError(f"genesis record must be {keys} with format {FORMAT!r} and seq 0")
        record = Record(0, "genesis", None, (), raw["config"], payload)
    elif kind == "command":
        fields = ["v", "seq", "kind", "input", "events"] + (["request"] if version == REQUEST_VERSION else [])
        if list(raw) != fields or not isinstance(raw["events"], list):
            raise CodecError(f"version {version} command record fields must be {', '.join(fields)}")
        if not all(isinstance(e, dict) for e in raw["events"]):
            raise CodecError("events must be objects")
        request = _request(raw["request"]) if version == REQUEST_VERSION else None
        record = Record(seq, "command", decode_command(raw["input"]), tuple(raw["events"]), None, payload,
                        request=request)
    elif kind == "params":
        fields = ["v", "seq", "kind", "config", "events"] + (["request"] if version == REQUEST_VERSION else [])
        if list(raw) != fields or seq < 1 or not isinstance(raw["config"], dict) or not (
                isinstance(raw["events"], list) and all(isinstance(e, dict) for e in raw["events"])):
            raise CodecError(f"version {version} params record fields must be {', '.join(fields)} (seq >= 1)")
        request = _request(raw["request"]) if version == REQUEST_VERSION else None
        cmd = c.ChangeParams(decode_config(raw["config"]), params_record_digest(raw["config"]), replayed=True)
        record = Record(seq, "params", cmd, tuple(raw["events"]), raw["config"], payload, request=request)
    elif kind == "pol_snapshot":
        if version != VERSION or list(raw) != _POL_FIELDS or seq < 1 or not isinstance(raw["header"], dict) or not (
                _is_hex_digest(raw["snapshot_id"]) and isinstance(raw["root"], dict)
                and _is_hex_digest(raw["root"].get("hash")) and isinstance(raw["root"].get("values"), list)):
            raise CodecError(f"pol_snapshot record fields must be {', '.join(_POL_FIELDS)} (version {VERSION}, "
                             "seq >= 1, a header object, a 64-hex snapshot id, a root with hash and values)")
        record = Record(seq, "pol_snapshot", None, (), None, payload,
                        pol={"header": raw["header"], "snapshot_id": raw["snapshot_id"], "root": raw["root"]})
    elif kind == "checkpoint" and version == CHECKPOINT_VERSION:
        head = _checkpoint_head(raw, seq)
        record = Record(seq, "checkpoint", None, (), None, payload, raw["state_hash"], head=head)
    elif kind == "checkpoint":
        if list(raw) != ["v", "seq", "kind", "state_hash"] or seq < 1 or not _is_hex_digest(raw["state_hash"]):
            raise CodecError("version 1 checkpoint record fields must be v, seq (>= 1), kind, state_hash "
                             "(64 lowercase hex)")
        record = Record(seq, "checkpoint", None, (), None, payload, raw["state_hash"])
    else:
        raise CodecError(f"unknown record kind {kind!r}")
    if canonical_json(raw) != payload:
        raise CodecError("record bytes are not in canonical form")
    if record.input is not None and kind == "command" and encode_command(record.input) != raw["input"]:
        raise CodecError("command is not in canonical form")
    return record


def encode_profile(profile: VenueProfile) -> dict[str, Any]:
    """How a genesis record names the venue profile, so that replay uses the same specs.

    * the bundled profile as shipped: ``{"name", "bundled": true, "sha256"}``, the digest of
      the profile as this solvent ships it (``bundled_sha256``): replay loads it with overlays
      off and refuses when the bundled profile is not the one the journal ran on (a newer
      solvent whose tiers changed). Journals written before the digest was recorded have
      ``{"name", "bundled": true}`` and replay on the bundled profile as it is; an earlier
      version of the file that this solvent keeps (``profiles/history/``, a venue started on it)
      is named the same way by its own digest (``kept_sha256``);
    * the bundled profile with a dated overlay (``solvent venues update``):
      ``{"name", "bundled": false, "overlay": {"effective_from", "sha256"}}``; replay loads
      exactly that overlay file from the data folder and refuses when it is missing
      (``bundled`` is false so that a solvent without overlays refuses too, never replaying
      on other specs);
    * anything else: ``{"name", "bundled": false}`` (replay needs the configuration).
    """
    name = profile.name
    if name in bundled_venues():
        if profile == load_venue(name, overlays=False):
            return {"name": name, "bundled": True, "sha256": bundled_sha256(name)}
        kept = kept_sha256(profile)
        if kept is not None:  # an earlier version of the file, as this solvent keeps it
            return {"name": name, "bundled": True, "sha256": kept}
        stamp = profile.overlay
        if stamp is not None and load_venue_overlay(name, stamp.sha256) == profile:
            return {"name": name, "bundled": False,
                    "overlay": {"effective_from": stamp.effective_from, "sha256": stamp.sha256}}
    return {"name": name, "bundled": False}


def decode_profile(raw: object) -> VenueProfile:
    """The profile a genesis record names (``encode_profile``); ``CodecError`` if solvent cannot rebuild it."""
    if not isinstance(raw, dict):
        raise CodecError(f"the journal's venue profile {raw!r} is not a bundled one: pass the EngineConfig")
    name = str(raw.get("name"))
    overlay = raw.get("overlay")
    if isinstance(overlay, dict) and isinstance(overlay.get("sha256"), str) and name in bundled_venues():
        profile = load_venue_overlay(name, overlay["sha256"])
        if profile is None:
            folder, tail = overlay_dir(name), f"-{overlay['sha256'][:16]}.json"
            if any(folder.glob(f"*{tail}")):
                raise CodecError(f"the journal ran on {name} with the overlay of {overlay.get('effective_from')}, "
                                 f"whose file in {folder} (*{tail}) was changed since: restore it as written")
            raise CodecError(f"the journal ran on {name} with the overlay of {overlay.get('effective_from')}, "
                             f"which is not in {folder}: copy the file whose name ends in {tail} back into it")
        return profile
    if not raw.get("bundled"):
        raise CodecError(f"the journal's venue profile {name!r} is not a bundled one: pass the EngineConfig")
    recorded = raw.get("sha256")
    if recorded is None:
        return load_venue(name, overlays=False)
    if not _is_hex_digest(recorded):
        raise CodecError(f"the journal's venue profile {name}: sha256 must be 64 lowercase hex digits")
    profile = bundled_profile_at(name, recorded)
    if profile is None and kept_profile_file(name, recorded).is_file():
        raise CodecError(f"the journal ran on {name} as shipped with digest {recorded[:16]}…, whose kept file "
                         f"{kept_profile_file(name, recorded)} no longer has that digest (changed since it was "
                         "shipped): restore it")
    if profile is None:
        raise CodecError(f"the journal ran on {name} as bundled with another solvent (profile SHA-256 "
                         f"{recorded[:16]}…; this solvent ships {bundled_sha256(name)[:16]}… and keeps no earlier "
                         "version with that digest): replay here might not reproduce the journal; use the solvent "
                         "version that wrote it")
    return profile


def encode_config(config: EngineConfig) -> dict[str, Any]:
    """The configuration as JSON; the venue profile as ``encode_profile`` names it."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name == "profile":
            out["profile"] = encode_profile(value)
        elif f.name == "liquidation":
            out["liquidation"] = None if value is None else _encode_policy(value)
        else:
            out[f.name] = encode_value(value)
    return out


def _encode_policy(policy: LiquidationPolicy) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(policy):
        value = getattr(policy, f.name)
        if f.name == "liquidity":
            name = type(value).__name__
            if _LIQUIDITY_TYPES.get(name) is not type(value):
                raise CodecError(f"liquidity model {name} cannot be journaled")
            out["liquidity"] = {"type": name, **encode_value(value)}
        else:
            out[f.name] = encode_value(value)
    return out


LEGACY_CONFIG: dict[str, Any] = {"history": None, "volatility_mm": False, "dated_basis_reset": False,
                                 "fill_checks": False, "price_band": "0.5",
                                 "one_settle_asset": False, "isolated_lock_up": False,
                                 "amounts_on_quantum": False, "strict_leverage": False,
                                 "isolated_open_loss": False, "isolated_leverage_cut": False,
                                 "leverage_grid": False, "fee_cap": False,
                                 "order_terms": False, "venue_default_leverage": False}
"""Fields added to ``EngineConfig`` after journals were written, with the encoded value that
reproduces what those journals' engines did; a genesis record without the field gets it."""


LEGACY_POLICY: dict[str, Any] = {"venue_rules": False, "revision": 1, "backstop_loss_limit": None}
"""Likewise for ``LiquidationPolicy``: a recorded policy without ``venue_rules`` predates the
venue liquidation rules and replays with the generic procedure it ran; one without
``revision`` ran revision 1 of the liquidation arithmetic; one without ``backstop_loss_limit``
had none (its backstop carried any loss)."""


def with_legacy_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """A recorded configuration with the fields it predates filled in (see ``LEGACY_CONFIG``)."""
    return {**raw, **{k: v for k, v in LEGACY_CONFIG.items() if k not in raw}}


def fields_left_out(raw: dict[str, Any]) -> list[str]:
    """The fields of ``EngineConfig`` (and of its liquidation policy, ``liquidation.NAME``) that a
    configuration ``raw`` does not give. ``decode_config`` fills them as a journal written before
    them ran (``LEGACY_CONFIG``: their rules off), which a genesis record needs and a
    configuration put in force today must not get by leaving a field out (found by review:
    ``POST /v1/params`` without ``fee_cap`` turned the fee cap off)."""
    left = [f.name for f in dataclasses.fields(EngineConfig) if f.name not in raw]
    policy = raw.get("liquidation")
    if isinstance(policy, dict):
        left += [f"liquidation.{f.name}" for f in dataclasses.fields(LiquidationPolicy) if f.name not in policy]
    return left


def decode_config(raw: dict[str, Any]) -> EngineConfig:
    """Rebuild the configuration recorded in a genesis record (bundled profiles only)."""
    hints = hints_of(EngineConfig)
    names = [f.name for f in dataclasses.fields(EngineConfig)]
    if "profile" not in raw:
        raise CodecError("$.config: no 'profile' (the venue profile, as a genesis record or GET /v1/params names it)")
    kwargs: dict[str, Any] = {"profile": decode_profile(raw.get("profile"))}
    raw = with_legacy_defaults(raw)
    if sorted(raw) != sorted(names):
        raise CodecError(f"$.config: fields do not match this version of EngineConfig ({_field_mismatch(raw, names)})")
    for name in names[1:]:
        if name == "liquidation":
            kwargs[name] = None if raw[name] is None else _decode_policy(raw[name])
        else:
            kwargs[name] = decode_value(raw[name], hints[name], f"$.config.{name}")
    try:
        return EngineConfig(**kwargs)
    except (ValueError, InvalidInput) as exc:  # a recorded value the configuration refuses
        raise CodecError(f"$.config: {exc}") from None


def _field_mismatch(given: dict[str, Any], expected: list[str]) -> str:
    """Which fields are unknown and which are missing, for a one-line refusal."""
    unknown, missing = sorted(set(given) - set(expected)), sorted(set(expected) - set(given))
    parts = ([f"unknown: {', '.join(unknown)}"] if unknown else []) + (
        [f"missing: {', '.join(missing)}"] if missing else [])
    return "; ".join(parts)


def _decode_policy(raw: Any) -> LiquidationPolicy:
    if not isinstance(raw, dict) or not isinstance(raw.get("liquidity"), dict):
        raise CodecError("$.config.liquidation: expected an object with 'liquidity'")
    liq = dict(raw["liquidity"])
    cls = _LIQUIDITY_TYPES.get(str(liq.pop("type", "")))
    if cls is None:
        raise CodecError("$.config.liquidation.liquidity: unknown model type")
    model: LiquidityModel = decode_dataclass(liq, cls, "$.config.liquidation.liquidity")
    rest = {**{k: v for k, v in LEGACY_POLICY.items() if k not in raw},
            **{k: v for k, v in raw.items() if k != "liquidity"}}
    names = [f.name for f in dataclasses.fields(LiquidationPolicy) if f.name != "liquidity"]
    added = {"collateral_conversion_penalty"}  # newer fields: an older journal takes the default
    if set(rest) - set(names) or set(names) - set(rest) - added:
        raise CodecError("$.config.liquidation: fields do not match LiquidationPolicy "
                         f"({_field_mismatch(rest, [n for n in names if n not in added or n in rest])})")
    hints = hints_of(LiquidationPolicy)
    kwargs = {n: decode_value(rest[n], hints[n], f"$.config.liquidation.{n}") for n in names if n in rest}
    try:
        return LiquidationPolicy(liquidity=model, **kwargs)
    except ValueError as exc:  # a recorded value the policy refuses
        raise CodecError(f"$.config.liquidation: {exc}") from None
