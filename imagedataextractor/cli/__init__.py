"""The ``ide`` command line: a thin layer over the Python API.

Each module of this package defines the commands of one stage and a ``register(group)`` function;
they import torch, OpenCV and the stages inside the command bodies so that ``ide --help`` is fast.
"""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import sys
import traceback

import click

from ..errors import IDEError
from ..redact import redact


#: Exit statuses of the batch commands (``ide extract``, ``ide harvest``); 2 is click's usage error.
EXIT_ALL_DONE, EXIT_ALL_FAILED, EXIT_USAGE, EXIT_SOME_FAILED = 0, 1, 2, 3
#: Exit status when the output pipe closes early (128 + SIGPIPE, as a shell reports a killed reader's writer).
EXIT_PIPE_CLOSED = 141


def exit_for_batch(n_failed: int, n_items: int) -> None:
    """End a batch command: 0 when no item failed (done or skipped), 3 when some failed, 1 when every
    item failed (as for an error that stops the run)."""
    if n_failed:
        click.get_current_context().exit(EXIT_ALL_FAILED if n_failed == n_items else EXIT_SOME_FAILED)


class IDEGroup(click.Group):
    """Turns :class:`IDEError` into a one-line ``Error: ...`` and exit status 1, never a traceback;
    any other exception (a bug) prints its traceback and exits 1. Both pass through
    :func:`~imagedataextractor.redact.redact`, so no credential is printed."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IDEError as exc:
            raise click.ClickException(redact(str(exc))) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader of our output went away (``ide query ... | head``): stop quietly, as
            # Unix tools do, and keep Python from failing again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(EXIT_PIPE_CLOSED)
        except Exception:  # noqa: BLE001 - shown in full, less the credentials
            click.echo(redact(traceback.format_exc()), err=True)
            ctx.exit(1)


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
