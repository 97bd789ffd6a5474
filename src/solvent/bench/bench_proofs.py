"""Proof benchmarks (issue 16).

* ``proofs.pol.build.1m`` (quick: ``proofs.pol.build.100k``): seconds to build the
  ``solvent-pol-v1`` tree of that many accounts with two assets (``proofs/pol.py``: salts,
  salted ids, leaves, pads, sorting, every node with both children's values); floor: hashing
  the same leaf preimages once each in a bare loop (``hashlib.sha256`` over prepared bytes),
  the least any builder of these leaves must do. The tree has as many nodes again as leaves,
  and each account also costs an HMAC and an id hash, so about 4× is the floor's own shape.
* ``proofs.certificate.verify``: µs for ``solvent_verify`` to check one liquidation
  certificate (signature, two inclusion proofs, the arithmetic, the level); floor: one Ed25519
  signature check with ``cryptography``, which every certificate check contains.
"""

from __future__ import annotations

import hashlib
import random
import time

from solvent.bench import BenchResult, benchmark, best_of, result
from solvent.proofs.pol import Values, build_tree, encode_values

__all__ = ["proof_benchmarks"]

_HEADER = {"venue": "bench", "journal_seq": 1, "journal_head": "0" * 64, "state_hash": "0" * 64,
           "assets": [{"symbol": "BTC", "decimals": 8}, {"symbol": "USDT", "decimals": 6}], "taken_at_ms": 0}


def _accounts(n: int) -> dict[str, Values]:
    rng = random.Random(16)
    return {f"acct{i:07d}": ((rng.randrange(10**9), 0), (rng.randrange(10**12), rng.randrange(10**9) * (i % 7 == 0)))
            for i in range(n)}


def _pol(quick: bool) -> BenchResult:
    n = 100_000 if quick else 1_000_000
    accounts = _accounts(n)
    master = hashlib.sha256(b"bench master").digest()
    start = time.perf_counter()
    tree = build_tree(_HEADER, accounts, master)
    build_s = time.perf_counter() - start
    snap = tree.snapshot_id
    preimages = [b"\x00" + snap + hashlib.sha256(name.encode()).digest() + encode_values(values)
                 for name, values in accounts.items()]
    sha256 = hashlib.sha256

    def hash_leaves() -> None:
        for data in preimages:
            sha256(data).digest()

    floor_s = best_of(hash_leaves, 3)
    label = f"proofs.pol.build.{'100k' if quick else '1m'}"
    return result(label, build_s, "s", "hashing the same leaf preimages once each", floor_s,
                  f"{n:,} accounts, 2 assets, height {tree.header['height']}; "
                  f"{n / build_s:,.0f} accounts/s")


def _certificate() -> BenchResult:
    import json
    import tempfile
    from decimal import Decimal
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from solvent.engine import AdvanceTime, Command, Deposit, EngineConfig, Fill, PriceUpdate
    from solvent.journal import DurableEngine, MemoryBackend
    from solvent.journal.checkpoint_note import SignerKey, sign_checkpoint
    from solvent.journal.log_proofs import journal_checkpoint
    from solvent.proofs.certificate import certify
    from solvent.risk.venues import load_venue
    from solvent_verify.certificate import verify_certificate
    from solvent_verify.note import parse_vkey

    backend = MemoryBackend()
    engine = DurableEngine(backend, EngineConfig(load_venue("binance-usdm")))
    commands: list[Command] = [
        AdvanceTime(0), PriceUpdate("BTCUSDT", "s", Decimal(50_000)), Deposit("A", "USDT", Decimal(1_000)),
        Deposit("B", "USDT", Decimal(100_000)), Fill("t1", "BTCUSDT", Decimal(50_000), Decimal("0.1"), "A", "B"),
        *(PriceUpdate("BTCUSDT", "s", Decimal(p)) for p in (47_000, 44_000, 41_000, 40_150))]
    for cmd in commands:
        engine.apply(cmd)
    key = SignerKey("bench.example/venue", hashlib.sha256(b"bench key").digest())
    note = sign_checkpoint(journal_checkpoint(backend, key.name), key)
    seq = max(r.seq for r in backend.records(1) if b'"level":"liquidation"' in r.payload)
    certificate = certify(backend, seq, note)
    trusted = parse_vkey(key.verifier_key())
    with tempfile.TemporaryDirectory() as tmp:  # the certificate as a published file is read once
        path = Path(tmp) / "certificate.json"
        path.write_text(json.dumps(certificate))
        loaded = json.loads(path.read_text())
    calls = 200
    verify_s = best_of(lambda: [verify_certificate(loaded, trusted) for _ in range(calls)], 3) / calls
    private = Ed25519PrivateKey.from_private_bytes(key.seed)
    public, message = private.public_key(), note.encode()
    signature = private.sign(message)
    floor_s = best_of(lambda: [public.verify(signature, message) for _ in range(calls)], 3) / calls
    return result("proofs.certificate.verify", verify_s * 1e6, "µs/certificate", "one Ed25519 signature check",
                  floor_s * 1e6, f"liquidation certificate of record {seq}: 1 position, 1 mark, "
                                 f"{len(json.dumps(certificate)):,} bytes")


@benchmark("proofs")
def proof_benchmarks(quick: bool) -> list[BenchResult]:
    return [_pol(quick), _certificate()]
