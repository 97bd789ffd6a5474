"""Field names of a record type: the one home of what counts as a record's fields.

Most records are dataclasses; the resting order (``engine/state.OrderState``) is a msgspec
``Struct`` so the cycle collector does not track it. The codecs (``journal/_typed``, the state
hash in ``engine/state_digest``) read both through ``record_fields``.
"""

from __future__ import annotations

import dataclasses

import msgspec

__all__ = ["is_record", "record_fields"]


def is_record(cls: type) -> bool:
    """A dataclass or a msgspec ``Struct`` type."""
    return dataclasses.is_dataclass(cls) or (isinstance(cls, type) and issubclass(cls, msgspec.Struct))


def record_fields(cls: type) -> tuple[str, ...]:
    """The field names of record type ``cls`` in declaration order (``()`` if it is none)."""
    names = _FIELDS.get(cls)
    if names is None:
        if isinstance(cls, type) and issubclass(cls, msgspec.Struct):
            names = cls.__struct_fields__
        elif dataclasses.is_dataclass(cls):
            names = tuple(f.name for f in dataclasses.fields(cls))
        else:
            names = ()
        _FIELDS[cls] = names
    return names


_FIELDS: dict[type, tuple[str, ...]] = {}
