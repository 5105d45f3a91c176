"""The ``fngate`` command line (:func:`main`)."""

from gateway.cli.main import main

__all__ = ["main"]
