"""Kill-and-resume soak (slow): ``ide extract`` SIGKILLed at random moments, again and again, in
image mode and in article mode (the demo corpus through the replay server), then run to completion,
leaves the database an uninterrupted run leaves, row for row (ids and times aside).

``IDE_SOAK_KILLS`` (default 10) kills per mode; ``IDE_SOAK_SEED`` (default 0) draws the moments.
Prints one line per mode: kills, runs, rows compared, differences (BENCHMARKS.md, Reliability)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from db_tables import comparable_tables, row_differences
from pipeline_figures import micrograph, two_panel_figure
from PIL import Image

from imagedataextractor.harvest.replay import ReplayServer

DEMO = Path(__file__).resolve().parents[2] / "corpus" / "demo"
KILLS = int(os.environ.get("IDE_SOAK_KILLS", "10"))
KEYS = {"IDE_ELSEVIER_API_KEY": "els-key-test", "IDE_SPRINGER_API_KEY": "spr-key-test"}


def _run(command: list[str], env: dict[str, str], kill_after_s: float | None = None) -> bool:
    """Run ``command``; with ``kill_after_s``, SIGKILL it then unless it ended. True when killed."""
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            process.wait(timeout=kill_after_s if kill_after_s is not None else 600)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
    assert process.returncode in (0, 3), f"{' '.join(command)} exited {process.returncode}"
    return False


def _soak(name: str, command_for, env: dict[str, str], tmp_path: Path) -> None:
    """Episodes until KILLS kills: a fresh output folder, runs each killed at a moment drawn from
    the length of an uninterrupted run until one completes; then its database is compared."""
    rng = random.Random(int(os.environ.get("IDE_SOAK_SEED", "0")))
    reference_out = tmp_path / "reference"
    started = time.monotonic()
    _run(command_for(reference_out), env)
    duration_s = time.monotonic() - started
    expected = comparable_tables(reference_out / "ide.sqlite", {str(reference_out): "<out>"})
    kills = runs = rows = differences = episodes = 0
    while kills < KILLS:
        episodes += 1
        out = tmp_path / f"episode{episodes}"
        while True:
            runs += 1
            if not _run(command_for(out), env, kill_after_s=rng.uniform(0.5, duration_s)):
                break
            kills += 1
        found = comparable_tables(out / "ide.sqlite", {str(out): "<out>"})
        rows += sum(map(len, found.values()))
        differences += row_differences(found, expected)
    print(f"\nsoak {name}: {kills} kills, {runs} runs in {episodes} episodes, {rows} rows compared, {differences} differences "
          f"(uninterrupted run {duration_s:.1f} s)")
    assert differences == 0


@pytest.mark.slow
def test_image_mode_soak(tmp_path: Path) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for seed in range(6):
        Image.fromarray(micrograph(seed=seed)).save(images / f"m{seed}.png")
    Image.fromarray(two_panel_figure()).save(images / "figure.png")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    _soak("images", lambda out: [sys.executable, "-m", "imagedataextractor", "extract", str(images), "--out", str(out), "--method", "watershed"],
          env, tmp_path)


@pytest.mark.slow
def test_article_mode_soak(tmp_path: Path) -> None:
    with ReplayServer(DEMO) as server:
        env = {**os.environ, **server.env(), **KEYS, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1",
               "IDE_CONFIG": str(tmp_path / "no-such-config.toml")}
        env.pop("IDE_DB", None)
        command = [sys.executable, "-m", "imagedataextractor", "extract", "--doi-list", str(DEMO / "dois.txt"), "--method", "watershed", "--workers", "2"]
        _soak("articles", lambda out: [*command, "--out", str(out)], env, tmp_path)
