"""``ide extract DIR`` (images) killed with SIGKILL resumes: images done before are not extracted
again, their files were written as each was done, and the database ends as an uninterrupted run's."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from db_tables import comparable_tables
from pipeline_figures import micrograph
from PIL import Image

N_IMAGES = 6


def _command(images: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "imagedataextractor", "extract", str(images), "--out", str(out), "--method", "watershed", "--no-split"]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}


def done_items(db: Path) -> list[str]:
    """The items marked done in ``db``'s jobs table so far (none while it is being created)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return [row[0] for row in conn.execute("SELECT item FROM jobs WHERE status = 'done'")]
    except sqlite3.OperationalError:  # not created yet
        return []


def test_killed_image_run_resumes_without_redoing_done_images(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for seed in range(N_IMAGES):
        Image.fromarray(micrograph(seed=seed)).save(images / f"m{seed}.png")
    reference = subprocess.run(_command(images, tmp_path / "ref"), env=_env(), capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stdout + reference.stderr

    out = tmp_path / "out"
    process = subprocess.Popen(_command(images, out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not done_items(out / "ide.sqlite") and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL, "the run ended before it could be killed midway"
    done = done_items(out / "ide.sqlite")
    assert 1 <= len(done) < N_IMAGES
    stems = [Path(item.split(" ")[0]).stem for item in done]
    written = {stem: (out / stem / "summary.json").stat().st_mtime_ns for stem in stems}  # written as soon as it was done

    rerun = subprocess.run(_command(images, out), env=_env(), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    for stem in stems:
        assert any(line.startswith(stem) and "already extracted" in line for line in rerun.stdout.splitlines()), rerun.stdout
        assert (out / stem / "summary.json").stat().st_mtime_ns == written[stem]
    assert comparable_tables(out / "ide.sqlite") == comparable_tables(tmp_path / "ref" / "ide.sqlite")
