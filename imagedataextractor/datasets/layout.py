"""Writing and reading the files of an EMPS-layout directory, shared by the importers and tools.

Layout: ``images/<stem>.png``, ``segmaps/<stem>.png`` (uint16 instance maps, 0 = background),
``train.csv`` / ``test.csv`` (one stem per line, no header) and ``metadata.csv`` with columns
``filename, doi, locator, regions`` where ``regions`` is a Python-literal list of VIA region dicts
(the shapes each map was drawn from; ``[]`` when the map did not come from shapes).
"""

from __future__ import annotations

import ast
import csv
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from PIL import Image

from ..errors import DatasetError, ImageError
from ..imageio import read_image

METADATA_COLUMNS = ("filename", "doi", "locator", "regions")
IMAGES, SEGMAPS, METADATA = "images", "segmaps", "metadata.csv"
SPLITS = ("train", "test")
#: The largest id a uint16 instance map can hold.
MAX_INSTANCES = np.iinfo(np.uint16).max

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one item: ``item`` names the file or annotation entry."""

    item: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.severity}: {self.item}: {self.message}"


@dataclass(frozen=True)
class ImportReport:
    """What an importer did.

    written: stems written to ``out_dir`` (image, segmap and metadata row each);
    skipped: entries with no annotated instance, left out on purpose (not an error);
    problems: one per failed item (``error``) or questionable one (``warning``).
    """

    out_dir: Path
    written: tuple[str, ...]
    skipped: tuple[str, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "written": list(self.written),
            "skipped": list(self.skipped),
            "problems": [{"item": p.item, "message": p.message, "severity": p.severity} for p in self.problems],
            "ok": self.ok,
        }


@dataclass(frozen=True)
class MetadataRow:
    """One row of ``metadata.csv``; ``regions`` are VIA region dicts in the annotated image's frame."""

    filename: str
    doi: str
    locator: str
    regions: tuple[dict, ...]


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the file header, without decoding; raises :class:`ImageError`."""
    try:
        with Image.open(path) as image:
            return image.size
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image ({exc})") from None


def write_image(source: Path, destination: Path, *, size_px: tuple[int, int], link: bool) -> None:
    """Put ``source`` at ``destination`` as a PNG of ``size_px`` (width, height).

    A PNG already of that size is copied byte for byte (or symlinked when ``link``); anything else is
    decoded with :func:`read_image` and written as RGB PNG, resized with bicubic interpolation.
    ``source`` may be ``destination`` itself (annotations imported into the folder the images are
    in, as after ``ide dataset build``): a PNG of the right size is then left as it is.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    as_is = source.suffix.lower() == ".png" and image_size(source) == size_px
    in_place = destination.exists() and not destination.is_symlink() and os.path.samefile(source, destination)
    if as_is and in_place:
        return
    # Decoded before the destination is removed, since the destination may be the source.
    image = None if as_is else Image.fromarray(read_image(source))
    if destination.is_symlink() or destination.exists():
        destination.unlink()
    if image is None:
        if link:
            os.symlink(source.resolve(), destination)
        else:
            shutil.copyfile(source, destination)
        return
    if image.size != size_px:
        image = image.resize(size_px, Image.Resampling.BICUBIC)
    image.save(destination)


def write_instance_map(labels: np.ndarray, destination: Path) -> None:
    """Write an (H, W) instance map as a 16-bit greyscale PNG."""
    if labels.ndim != 2:
        raise DatasetError(f"{destination}: an instance map must be 2-D, got shape {labels.shape}")
    if labels.size and int(labels.max()) > MAX_INSTANCES:
        raise DatasetError(f"{destination}: {int(labels.max())} instances do not fit a uint16 map")
    destination.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint16)).save(destination)


def _read_metadata_table(root: Path) -> pd.DataFrame:
    """``metadata.csv`` of ``root`` as strings with all its columns (at least :data:`METADATA_COLUMNS`)."""
    path = Path(root) / METADATA
    if not path.exists():
        return pd.DataFrame(columns=list(METADATA_COLUMNS), dtype=str)
    csv.field_size_limit(1 << 30)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, engine="python")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: not a readable CSV file ({exc})") from None
    missing = [c for c in ("filename", "doi") if c not in frame.columns]
    if missing:
        raise DatasetError(f"{path}: missing column(s) {', '.join(missing)}")
    for column in METADATA_COLUMNS:
        if column not in frame.columns:
            frame[column] = ""
    return frame


def read_metadata(root: Path) -> pd.DataFrame:
    """``metadata.csv`` of ``root`` as strings (columns :data:`METADATA_COLUMNS`; empty when absent)."""
    return _read_metadata_table(root)[list(METADATA_COLUMNS)]


def parse_regions(text: str, *, item: str) -> list[dict]:
    """The ``regions`` cell of ``metadata.csv`` (a Python literal list of dicts); raises :class:`DatasetError`."""
    if not text.strip():
        return []
    try:
        regions = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise DatasetError(f"{item}: the regions cell of metadata.csv is not a Python literal list") from None
    if not isinstance(regions, list) or not all(isinstance(r, dict) for r in regions):
        raise DatasetError(f"{item}: the regions cell of metadata.csv is not a list of region dicts")
    return regions


def doi_by_stem(root: Path) -> dict[str, str]:
    """DOI of each stem that has a non-empty DOI in ``metadata.csv``."""
    frame = read_metadata(root)
    return {Path(name).stem: doi for name, doi in zip(frame["filename"], frame["doi"]) if name and doi}


def update_metadata(root: Path, rows: Sequence[MetadataRow]) -> None:
    """Insert or replace ``rows`` in ``root/metadata.csv`` (keyed by filename), keeping the other rows.

    A replaced row keeps its earlier DOI and locator where the new row has none, and its columns
    beyond :data:`METADATA_COLUMNS` (the caption, source URL, licence, ... that ``ide dataset build``
    writes), so annotations imported into a built dataset keep its provenance; new files get empty
    cells there.
    """
    existing = _read_metadata_table(root)
    extra = [c for c in existing.columns if c not in METADATA_COLUMNS]
    replaced = {row.filename for row in rows}
    kept = existing[~existing["filename"].isin(replaced)]
    new = pd.DataFrame(
        [(r.filename, r.doi, r.locator, repr(list(r.regions))) for r in rows], columns=list(METADATA_COLUMNS)
    )
    previous = existing.drop(columns="regions").drop_duplicates("filename")
    new = new.merge(previous, on="filename", how="left", suffixes=("", "_before"))
    for column in ("doi", "locator"):
        before = new.pop(f"{column}_before").fillna("")
        new[column] = new[column].where(new[column] != "", before)
    new = new.fillna("")
    frame = pd.concat([kept, new], ignore_index=True) if len(kept) else new
    frame[[*METADATA_COLUMNS, *extra]].to_csv(Path(root) / METADATA, index=False)


def read_split_file(path: Path) -> list[str]:
    """Stems listed in a split file (one per line, no header; a ``.png`` suffix is dropped), in file
    order, duplicates kept. Stems may contain dots (``10.1016.j.x.gr1``)."""
    with path.open(newline="") as f:
        names = [row[0].strip() for row in csv.reader(f) if row and row[0].strip()]
    return [name.removesuffix(".png") for name in names]


def write_split_file(path: Path, stems: Iterable[str]) -> None:
    path.write_text("".join(f"{stem}\n" for stem in stems))


def list_stems(root: Path, folder: str) -> list[str]:
    """Sorted stems of the ``*.png`` files in ``root/folder`` (empty when the folder is absent)."""
    directory = Path(root) / folder
    return sorted(p.stem for p in directory.glob("*.png")) if directory.is_dir() else []


def require_layout(root: Path) -> Path:
    """Return ``root`` as a Path; raise :class:`DatasetError` unless it has ``images/`` and ``segmaps/``."""
    root = Path(root)
    if not (root / IMAGES).is_dir() or not (root / SEGMAPS).is_dir():
        raise DatasetError(f"{root}: not a dataset directory (needs {IMAGES}/ and {SEGMAPS}/)")
    return root


def with_progress(items: Sequence, *, enabled: bool, desc: str) -> Iterable:
    """``items``, iterated under a tqdm progress bar when ``enabled``."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, unit="image")
