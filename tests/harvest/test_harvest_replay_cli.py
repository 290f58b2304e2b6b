"""The README demo's set-up: the replay server started with --detach returns once it listens (its
variables printed), a port clash is one line and a non-zero exit, and ``ide harvest`` refuses a
placeholder key anywhere but on a local replay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.errors import HarvestError
from imagedataextractor.harvest import Harvester, load_settings

REPO = Path(__file__).resolve().parents[2]


def _replay(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "imagedataextractor.harvest.replay", "corpus/demo", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(120)
def test_detached_replay_listens_before_it_returns_and_a_port_clash_is_one_line():
    started = _replay("--port", "0", "--detach")
    assert started.returncode == 0, started.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines() if line.startswith("export "))
    pid = int(exports["IDE_REPLAY_PID"])
    port = exports["IDE_CROSSREF_API_URL"].rsplit(":", 1)[1].split("/", 1)[0]
    try:
        with pytest.raises(urllib.error.HTTPError, match="404"):  # it answers at once (an unknown DOI)
            urllib.request.urlopen(f"{exports['IDE_CROSSREF_API_URL']}/works/10.5555/none", timeout=5)
        clash = _replay("--port", port, "--detach")
    finally:
        os.kill(pid, signal.SIGTERM)
    assert clash.returncode == 1 and clash.stdout == ""
    assert len(clash.stderr.strip().splitlines()) == 1 and f"cannot listen on 127.0.0.1:{port}" in clash.stderr, clash.stderr


def test_placeholder_key_is_refused_unless_the_service_is_a_local_replay(monkeypatch, tmp_path):
    monkeypatch.setenv("IDE_CONFIG", str(tmp_path / "none.toml"))
    for name in ("IDE_ELSEVIER_API_URL", "IDE_SPRINGER_API_URL", "IDE_SPRINGER_FIGURE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDE_SPRINGER_API_KEY", "demo")
    with pytest.raises(HarvestError, match="placeholder"):
        Harvester(tmp_path, settings=load_settings())
    result = CliRunner().invoke(main, ["harvest", "10.1007/s1", "--corpus", str(tmp_path / "c")])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and "IDE_SPRINGER_API_KEY" in result.output
    monkeypatch.setenv("IDE_SPRINGER_API_URL", "http://127.0.0.1:9/springer")
    monkeypatch.setenv("IDE_SPRINGER_FIGURE_URL", "http://localhost:9/springer-static")
    Harvester(tmp_path, settings=load_settings()).close()  # a local replay: the demo key is fine
