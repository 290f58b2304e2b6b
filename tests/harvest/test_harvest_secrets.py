"""No key ever shows: ``ide -vv harvest`` and ``ide -vv extract --doi-list`` against the local replay
of the publishers (with faults, so that retry and failure messages name URLs), then every byte they
printed, logged and wrote (corpus, outputs, database) is searched for the keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from imagedataextractor.harvest.replay import Fault, ReplayServer

DEMO = Path(__file__).resolve().parents[2] / "corpus" / "demo"
# Three publishers: Elsevier (key and token in headers), Springer (key in the query), Europe PMC.
SUBSET = ["10.1016/j.carbon.2019.12.021", "10.5555/ide-demo.springer.1", "10.5555/ide-demo.europepmc.1", "10.1016/j.absent.2020.1"]
KEYS = {"IDE_ELSEVIER_API_KEY": "els-3c9d2f70e1", "IDE_ELSEVIER_INSTTOKEN": "tok-8a51be7d44", "IDE_SPRINGER_API_KEY": "spr-6e0f93ab25"}


def _ide(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "imagedataextractor", "-vv", *args], env=env, cwd=cwd, capture_output=True, timeout=300)


@pytest.mark.timeout(300)
def test_keys_appear_in_no_output_log_corpus_file_or_database(tmp_path):
    doi_list = tmp_path / "dois.txt"
    doi_list.write_text("\n".join(SUBSET) + "\n")
    with ReplayServer(DEMO) as server:
        server.add_fault("/springer/openaccess/jats", Fault("status", times=1, status=503))
        server.add_fault("/elsevier/content/object/eid/*", Fault("status", times=2, status=500))
        env = {**os.environ, **server.env(), **KEYS, "IDE_CONFIG": str(tmp_path / "none.toml"), "OMP_NUM_THREADS": "1",
               "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        env.pop("IDE_DB", None)
        harvested = _ide("harvest", "--doi-list", str(doi_list), "--corpus", "corpus", "--json", env=env, cwd=tmp_path)
        extracted = _ide("extract", "--doi-list", str(doi_list), "--corpus", "corpus", "--out", "out", "--method", "watershed",
                         "--workers", "1", env=env, cwd=tmp_path)
        springer_queries = [s.query for s in server.seen if s.path.startswith("/springer/")]
    printed = harvested.stdout + harvested.stderr + extracted.stdout + extracted.stderr
    assert b"DEBUG urllib3.connectionpool" in printed and b"/springer/openaccess/jats" in printed  # -vv did log the requests
    assert springer_queries and all(q.get("api_key") == "***" for q in springer_queries)  # the key was sent
    assert (tmp_path / "out" / "ide.sqlite").is_file() and (tmp_path / "corpus").is_dir()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 10
    for secret in KEYS.values():
        assert secret.encode() not in printed
        for path in written:
            assert secret.encode() not in path.read_bytes(), path
