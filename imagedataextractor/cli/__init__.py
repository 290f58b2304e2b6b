"""The ``ide`` command line: a thin layer over the Python API.

Each module of this package defines the commands of one stage and a ``register(group)`` function;
they import torch, OpenCV and the stages inside the command bodies so that ``ide --help`` is fast.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import click

from ..errors import IDEError


class IDEGroup(click.Group):
    """Turns :class:`IDEError` into a one-line ``Error: ...`` and exit status 1, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IDEError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=IDEGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="imagedataextractor")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
def main(verbose: int, quiet: bool) -> None:
    """imagedataextractor: particle statistics from electron-microscopy figures."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _module in pkgutil.iter_modules(__path__):
    if _module.name.startswith("_"):  # helpers shared by the command modules
        continue
    importlib.import_module(f"{__name__}.{_module.name}").register(main)
