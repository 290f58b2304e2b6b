"""DOI lists: reading them, and the dotted DOI spelling of the EMPS metadata."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import HarvestError

_DOTTED = re.compile(r"^(10\.\d{4,9})\.(.+)$")


def read_doi_list(path: str | Path) -> list[str]:
    """DOIs from a text file, one per line, as written (blank lines and ``#`` comments skipped).
    Validation happens per DOI when harvesting, so one bad line does not stop a run."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HarvestError(f"{path}: cannot read DOI list ({exc})") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def doi_from_dotted(name: str) -> str:
    """The DOI in the EMPS metadata spelling, where "/" after the prefix became ".":
    ``10.1016.j.chemosphere.2019.06.008`` -> ``10.1016/j.chemosphere.2019.06.008``.

    The prefix is "10." plus the registrant code, which is digits only for every EMPS DOI (all
    Elsevier, 10.1016); the first "." after it is the "/". Raises :class:`HarvestError` otherwise.
    """
    match = _DOTTED.match(name.strip())
    if not match:
        raise HarvestError(f"{name!r}: not a dotted DOI (expected 10.<digits>.<suffix>)")
    return f"{match.group(1)}/{match.group(2)}".lower()
