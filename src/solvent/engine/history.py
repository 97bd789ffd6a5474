"""Forgetting history the engine no longer needs (``EngineConfig.history``, ``HistoryBounds``).

Runs after each command has committed (never inside one, so a rollback never has to bring
anything back), and is a pure function of the state: a replay forgets exactly what the live
engine forgot.

* **Index samples**: the expiry TWAP of any instrument reads the samples of
  ``[expiry − settlement_window_ms, expiry)`` and the one before that range, and the premium
  reads the newest. Time only moves forward and an instrument is settled when time reaches
  its expiry, so the samples older than ``now − settlement_window_ms`` can all go except the
  newest of them. Dropped samples are folded into ``MarketState.samples_base`` (the sample
  chain of ``state_digest``), so the state hash still covers every sample ever taken.
* **Trade ids**: once ``trade_ids + trade_ids // 4`` are held, the ids older than the newest
  ``trade_ids`` (by ordinal) are forgotten in one pass (amortised O(1) per trade).
"""

from __future__ import annotations

from collections.abc import Iterable

from solvent.engine.config import EngineConfig
from solvent.engine.state import EngineState, MarketState
from solvent.engine.state_digest import sample_link

__all__ = ["forget_history"]


def _drop_samples(market: MarketState, keep_from_ms: int) -> None:
    samples = market.index_samples
    k = 0
    while k + 1 < len(samples) and samples[k + 1][0] <= keep_from_ms:
        k += 1
    if k == 0:
        return
    chain = bytes.fromhex(market.samples_base)
    for sample in samples[:k]:
        chain = sample_link(chain, sample)
    market.samples_base = chain.hex()
    market.samples_dropped += k
    del samples[:k]


def _drop_trade_ids(state: EngineState, window: int) -> list[str]:
    if len(state.trade_ids) < window + max(1, window // 4):
        return []
    cutoff = state.trade_count - window
    dropped = [tid for tid, n in state.trade_ids.items() if n <= cutoff]
    state.trade_ids = {tid: n for tid, n in state.trade_ids.items() if n > cutoff}
    return dropped


def forget_history(state: EngineState, config: EngineConfig, symbols: Iterable[str]) -> list[str]:
    """Drop what ``config.history`` allows from the markets in ``symbols`` and the trade ids;
    returns the trade ids forgotten (the state hash needs to know)."""
    if config.history is None:
        return []
    keep_from = state.now_ms - config.settlement_window_ms
    for symbol in symbols:
        market = state.markets.get(symbol)
        if market is not None:
            _drop_samples(market, keep_from)
    return _drop_trade_ids(state, config.history.trade_ids)
