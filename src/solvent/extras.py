"""Optional parts of solvent and the one message for a missing one.

``pip install solvent`` installs the calculators, the engine, the journal on SQLite and the
demo (click, rich, msgspec). The rest are extras:

* ``stress``: ``solvent simulate`` and the stress module, the engine's price-tick screen and
  most benchmarks (numpy; without it the engine decides every holder of a ticking symbol
  exactly: the same decisions, more slowly);
* ``service``: ``solvent serve``, ``solvent keys``, the HTTP API (litestar,
  uvicorn, websockets, prometheus_client; httpx for the service benchmarks' client);
* ``postgres``: PostgreSQL journals (psycopg);
* ``plot``: the stress PNG (matplotlib);
* ``fast``: the compiled tick screen (numba and numpy; without numba the same kernels run on numpy);
* ``ccxt``: ``solvent venues update --live`` (fetches a venue's markets and leverage tiers
  through ccxt; saved payloads with ``--from`` need nothing);
* ``zk``: ``solvent zk`` zero-knowledge margin attestations (pysodium over the system
  libsodium, Debian ``libsodium23``);
* ``cluster``: ``solvent cluster``, replicas following a command log on NATS JetStream (nats-py);
* ``all``: every one of them.
"""

from __future__ import annotations

from solvent.errors import SolventError

__all__ = ["EXTRA_MODULES", "MissingExtra", "extra_providing", "missing_extra", "require"]

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "service": ("litestar", "uvicorn", "websockets", "httpx", "prometheus_client"),
    "postgres": ("psycopg",),
    "plot": ("matplotlib",),
    "stress": ("numpy",),
    "ccxt": ("ccxt",),
    "zk": ("pysodium",),
    "ray": ("ray",),
    "cluster": ("nats",),
}
"""The modules each extra installs (as pyproject.toml lists them)."""


class MissingExtra(SolventError):
    """A feature needs an optional dependency that is not installed."""


def missing_extra(exc: ImportError, extra: str, what: str) -> MissingExtra:
    """The error to raise when importing ``extra``'s dependency for ``what`` failed."""
    name = exc.name or str(exc)
    return MissingExtra(f"{what} needs the '{extra}' extra: pip install 'solvent[{extra}]' ({name} is not installed)")


def extra_providing(exc: ImportError) -> str | None:
    """The extra that installs the module whose import failed with ``exc`` (``None``: no extra does)."""
    top = (exc.name or "").split(".")[0]
    return next((extra for extra, modules in EXTRA_MODULES.items() if top in modules), None)


def require(extra: str, what: str) -> None:
    """Raise ``MissingExtra`` unless every module of ``extra`` imports."""
    import importlib

    for module in EXTRA_MODULES[extra]:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise missing_extra(exc, extra, what) from None
