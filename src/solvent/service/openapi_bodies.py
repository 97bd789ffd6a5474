"""Request bodies are closed in the OpenAPI document, as the service reads them.

Every body is a msgspec struct with ``forbid_unknown_fields`` (``service/schemas.py``): a field
the route does not know is refused (400), so that a misspelled ``reduce_only`` cannot place an
order that is not reduce-only. Litestar's schema of a struct leaves ``additionalProperties``
out, which in JSON Schema means any extra field is allowed, so a client generated from the
document would send what the service refuses. ``ClosedBodies`` writes the struct's schema as
Litestar does and adds ``additionalProperties: false`` where the struct forbids unknown fields.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.plugins import OpenAPISchemaPlugin

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.openapi.spec import Schema
    from litestar.typing import FieldDefinition

__all__ = ["ClosedBodies", "closed_bodies"]


def _struct_plugin() -> Any:
    """Litestar's own schema of a struct (a private module: a Litestar that moved it leaves the
    bodies open in the document, and the service runs as before)."""
    try:
        return importlib.import_module("litestar._openapi.schema_generation.plugins.struct").StructSchemaPlugin()
    except (ImportError, AttributeError):
        return None


_STRUCTS = _struct_plugin()


class ClosedBodies(OpenAPISchemaPlugin):
    """The schema of a struct that forbids unknown fields, with ``additionalProperties: false``."""

    def is_plugin_supported_field(self, field_definition: FieldDefinition) -> bool:
        kind = field_definition.type_
        return (not field_definition.is_union and inspect.isclass(kind) and issubclass(kind, msgspec.Struct)
                and bool(kind.__struct_config__.forbid_unknown_fields))

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema: Schema = _STRUCTS.to_openapi_schema(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


def closed_bodies() -> list[OpenAPISchemaPlugin]:
    """The plugins to give Litestar: ``ClosedBodies``, where this Litestar has the struct schema it builds on."""
    return [ClosedBodies()] if _STRUCTS is not None else []
