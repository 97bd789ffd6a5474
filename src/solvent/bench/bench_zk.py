"""Zero-knowledge benchmarks (issue 16 item 6, ``docs/zk.md``).

* ``zk.cema.prove`` / ``zk.cema.verify``: ms to prove / verify one Z1 attestation for an
  account with one collateral asset and ``POSITIONS`` positions, each in an MM tier with a
  floor, a cap and a maintenance amount (Z1b): 64-bit range proofs on each |q|, on each
  notional's distance to its tier's floor and cap, and on the margin excess; an OR proof per
  position; floor: as many bare ristretto255
  scalar multiplications through libsodium (``pysodium``) as that prove or verify made
  (counted by ``group.MULTIPLICATIONS``), in a plain loop: group operations are the cost of
  a sigma protocol, and no prover or verifier of this statement can make fewer.
"""

from __future__ import annotations

import time
from decimal import Decimal

from solvent.bench import BenchResult, benchmark, best_of, result
from solvent.proofs.zk.cema import ABS_BITS, CollateralTerm, PositionTerm, Statement, Witness, prove, verify
from solvent.proofs.zk.group import MULTIPLICATIONS

__all__ = ["zk_benchmarks"]

POSITIONS = 4
_UNIT = Decimal("0.00000001")
PSEUDONYM = "0123456789abcdef0123456789abcdef"  # statements name the account by a pseudonym


def _account() -> tuple[Statement, Witness]:
    terms = tuple(PositionTerm(f"S{i}USDT", Decimal(1000 * (i + 1)), Decimal("0.001"), Decimal("0.005"),
                               Decimal("0.05"), Decimal(50), Decimal(10**6)) for i in range(POSITIONS))
    collateral = (CollateralTerm("USDT", Decimal(1), Decimal(0), _UNIT),)
    st = Statement("bench@1:0", PSEUDONYM, "equity_ge_mm", _UNIT, collateral, terms, 64)
    qty = tuple((100 + i) * (1 if i % 2 else -1) for i in range(POSITIONS))
    cost = tuple(q * 1000 * (i + 1) * 10**5 for i, q in enumerate(qty))  # entered at the mark
    return st, Witness((10**6 * 10**8,), qty, cost)


def _mults(n: int) -> float:
    """Seconds for ``n`` bare scalar multiplications (the floor)."""
    import pysodium  # type: ignore[import-untyped,import-not-found,unused-ignore]

    from solvent.proofs.zk.group import generator_h

    h, k = generator_h(), (2**250 + 12345).to_bytes(32, "little")

    def loop() -> None:
        for _ in range(n):
            pysodium.crypto_scalarmult_ristretto255(k, h)

    return best_of(loop, 3)


@benchmark("zk", needs=("zk",))
def zk_benchmarks(quick: bool) -> list[BenchResult]:
    st, w = _account()
    rounds = 2 if quick else 5
    before = MULTIPLICATIONS[0]
    proof = prove(st, w)[0]
    prove_mults = MULTIPLICATIONS[0] - before
    assert verify(proof)
    verify_mults = MULTIPLICATIONS[0] - before - prove_mults
    prove_s = min(_timed(lambda: prove(st, w)) for _ in range(rounds))
    verify_s = min(_timed(lambda: verify(proof)) for _ in range(rounds))
    detail = (f"{POSITIONS} tiered positions + 1 collateral: {4 * POSITIONS + 2} range proofs of {ABS_BITS} bits "
              f"({POSITIONS} on |q|, {POSITIONS + 1} on costs and collateral, {2 * POSITIONS} on the tier bounds, "
              "1 on the excess)")
    return [result("zk.cema.prove", prove_s * 1e3, "ms", f"{prove_mults} bare scalar multiplications",
                   _mults(prove_mults) * 1e3, detail),
            result("zk.cema.verify", verify_s * 1e3, "ms", f"{verify_mults} bare scalar multiplications",
                   _mults(verify_mults) * 1e3, detail)]


def _timed(fn: object) -> float:
    assert callable(fn)
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
