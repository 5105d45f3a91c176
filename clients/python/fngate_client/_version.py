"""This client's version (also in clients/python/pyproject.toml)."""

VERSION = "0.1.0"
