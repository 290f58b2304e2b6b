"""The per-article status record, ``provenance.json`` in each article directory.

It says where the article and each figure came from (URLs without credentials, sizes, SHA-256,
times) and the harvest status: "in-progress" (article saved, figures pending), "done", or
"failed" with a reason and whether the failure is ``permanent`` (a rerun skips permanent failures
unless asked to retry them, and retries the others, fetching only what is missing).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..version import __version__
from ..document.corpus import PROVENANCE_FILE
from .http import write_atomic

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_provenance(directory: Path) -> dict[str, Any] | None:
    """The provenance record of an article directory, or None (absent or unreadable)."""
    path = directory / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable provenance (%s); the article will be fetched again", path, exc)
        return None
    return record if isinstance(record, dict) else None


def write_provenance(directory: Path, record: dict[str, Any]) -> None:
    """Write the record atomically, stamped with the schema version, tool and time."""
    record = {**record, "schema": SCHEMA_VERSION, "tool": f"imagedataextractor {__version__}", "updated_at": now_iso()}
    write_atomic(directory / PROVENANCE_FILE, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8"))
