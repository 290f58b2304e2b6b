"""Progress of long runs on stderr: tqdm bars, and the stage a slow step is in.

Bars are written to stderr, never stdout (which may carry ``--json``); while they are open, log
lines go through ``tqdm.write`` so that they do not break them. ``progress=None`` in the public
functions means: on when stderr is a terminal, off otherwise (pipes, CI logs, tests).
"""

from __future__ import annotations

import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm


def wanted(progress: bool | None) -> bool:
    """``progress`` resolved: None means on when stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else progress


def open_bar(stack: ExitStack, enabled: bool, position: int = 0, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr at line ``position``, closed with ``stack``; a disabled bar (all its
    methods do nothing) when not ``enabled``. ``kwargs``: tqdm's (total, desc, unit, ...)."""
    from tqdm import tqdm

    return stack.enter_context(tqdm(position=position, leave=True, disable=not enabled, dynamic_ncols=True, file=sys.stderr, **kwargs))


def route_logging(stack: ExitStack, enabled: bool) -> None:
    """While ``stack`` is open (and bars ``enabled``), log lines go through tqdm.write, not across the bars."""
    if enabled:
        from tqdm.contrib.logging import logging_redirect_tqdm

        stack.enter_context(logging_redirect_tqdm())


class FigureProgress:
    """The bars of an image run: images done, panels done (the total grows as figures are split),
    and the stage the runner is in written beside the panels (``stage("reading scalebar")``).
    Disabled, every method does nothing."""

    def __init__(self, stack: ExitStack, enabled: bool, n_images: int, desc: str = "images") -> None:
        self.images = open_bar(stack, enabled, 0, total=n_images, desc=desc, unit="image")
        self.panels = open_bar(stack, enabled, 1, total=0, desc="panels", unit="panel")
        route_logging(stack, enabled)

    def stage(self, text: str) -> None:
        """Say what the runner is doing now (shown until the next stage)."""
        self.panels.set_postfix_str(text)

    def add_panels(self, n: int) -> None:
        self.panels.total += n
        self.panels.refresh()

    def panel_done(self) -> None:
        self.panels.update()

    def image_done(self) -> None:
        self.images.update()
