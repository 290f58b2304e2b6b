"""The outcome of one item of work (an image, a panel, a figure, an article, a job), shared by the
runner, the article run and the store."""

from __future__ import annotations

from typing import Literal, get_args

#: "done": processed (possibly with nothing found); "skipped": deliberately not processed (not a
#: micrograph, done before); "failed": could not be processed, with a one-line reason.
Status = Literal["done", "skipped", "failed"]

#: The values of :data:`Status`, in that order.
STATUSES: tuple[str, ...] = get_args(Status)
