"""The service: HTTP + WebSocket API, API keys, dashboard and metrics around one engine.

``build_service`` makes a ``Service`` (engine behind its journal, event log, keys, limits);
``create_app`` serves it as an ASGI app; ``solvent serve`` runs it with uvicorn.
"""

from solvent.service.app import create_app
from solvent.service.builder import build_service, open_durable
from solvent.service.context import Service
from solvent.service.eventlog import EventLog
from solvent.service.keys import KeyStore, Principal, Role
from solvent.service.ratelimit import RateLimiter
from solvent.service.venue import Venue, default_config, default_engine

__all__ = [
    "EventLog",
    "KeyStore",
    "Principal",
    "RateLimiter",
    "Role",
    "Service",
    "Venue",
    "build_service",
    "create_app",
    "default_config",
    "default_engine",
    "open_durable",
]
