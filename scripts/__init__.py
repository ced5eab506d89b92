"""Developer scripts (importable, so the tests can share their code)."""
