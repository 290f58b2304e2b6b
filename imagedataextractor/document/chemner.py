"""ChemDataExtractor as an optional chemical recogniser for captions.

It is never required: whether it is installed *and usable* (its models and data present) is found
out once per process, the first time a caption is analysed with ``chem_ner="auto"``, and logged
once. When it is not installed the check is a module lookup that imports nothing.
"""

from __future__ import annotations

import importlib.util
import logging
import threading

from .types import Mention

log = logging.getLogger(__name__)

_lock = threading.Lock()
_usable: bool | None = None


def chemdataextractor_usable() -> bool:
    """True when ChemDataExtractor imports and recognises a test sentence; checked and logged once."""
    global _usable
    with _lock:
        if _usable is None:
            _usable = _probe()
        return _usable


def reset_probe() -> None:
    """Forget the result of the check (for tests that install or remove a module)."""
    global _usable
    with _lock:
        _usable = None


def _probe() -> bool:
    if importlib.util.find_spec("chemdataextractor") is None:
        log.info("ChemDataExtractor is not installed: captions use the built-in formula recogniser only")
        return False
    try:
        from chemdataextractor.doc import Paragraph

        Paragraph("TEM image of Au nanoparticles").cems
    except Exception as exc:  # noqa: BLE001 - any failure of the optional extra means "not usable"
        log.warning("ChemDataExtractor is installed but not usable (%s): using the built-in recogniser only", exc)
        return False
    log.info("ChemDataExtractor found: its chemical named-entity recogniser adds to caption analysis")
    return True


def chemdataextractor_mentions(text: str) -> list[Mention]:
    """Chemical entity mentions that ChemDataExtractor finds in ``text`` (call only when usable)."""
    from chemdataextractor.doc import Paragraph

    return [Mention(span.text, span.text, span.start, span.end) for span in Paragraph(text).cems]
