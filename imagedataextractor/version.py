"""The package version, in a module of its own so that any module can import it without importing
the package's ``__init__`` (setup.cfg reads it from here too)."""

__version__ = "3.0.0.dev0"
