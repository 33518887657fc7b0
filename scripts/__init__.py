"""Developer tooling: the local stack, the template reader, the OpenAPI document (importable by bench and tests)."""
