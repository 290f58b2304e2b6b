"""``extract_articles(..., cluster=...)`` on a real Dask cluster of 2 worker processes, harvesting
from the replay server into a throwaway PostgreSQL server: the database equals a single-process
run's table by table, also with a worker SIGKILLed mid-run; the publishers' rate limit and a 429's
Retry-After hold across the workers; the keys reach no task key, log or worker file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import pytest
from cluster_setup import DEMO_DOIS, KEYS, SUBSET, fast_config
from db_tables import comparable_tables

from imagedataextractor.harvest.replay import SERVICE_PREFIXES, Fault
from imagedataextractor.literature import extract_articles
from imagedataextractor.store import open_db

FAST = fast_config()


def _tables(db: str, corpus: Path) -> dict[str, list[tuple]]:
    return comparable_tables(db, roots={str(corpus): "<corpus>"})


def _statuses(summary) -> list[tuple]:
    return [(a.item, a.status, a.n_figures, a.n_em_panels, a.n_particles) for a in summary.articles]


@pytest.fixture(scope="module")
def single_process(replay, pg_cluster, tmp_path_factory):
    """SUBSET extracted without a cluster: (summary, database URL, corpus)."""
    corpus = tmp_path_factory.mktemp("single") / "corpus"
    db = pg_cluster.new_database()
    summary = extract_articles(SUBSET, corpus=corpus, db=db, method="watershed", workers=2, harvest_config=FAST)
    assert summary.count("done") == len(SUBSET) and summary.n_particles > 0
    return summary, db, corpus


def test_cluster_database_equals_single_process_and_keys_stay_secret(single_process, dask_cluster, pg_cluster, tmp_path) -> None:
    expected_summary, expected_db, expected_corpus = single_process
    cluster, client = dask_cluster
    client.get_task_stream()  # starts recording the tasks' keys
    db = pg_cluster.new_database()
    summary = extract_articles(SUBSET, corpus=tmp_path / "corpus", db=db, method="watershed", harvest_config=FAST, cluster=cluster.scheduler_address)
    assert _statuses(summary) == _statuses(expected_summary)
    expected = _tables(expected_db, expected_corpus)
    assert len(expected["panels"]) == 3 and len(expected["particles"]) > 0
    assert _tables(db, tmp_path / "corpus") == expected
    # both workers took tasks: one per article load and one per figure
    records = client.get_task_stream()
    keys = [str(r["key"]) for r in records]
    assert sum(k.startswith("ide-article-") for k in keys) == 3 and sum(k.startswith("ide-figure-") for k in keys) == 5
    # the keys are in no task key, log line or worker file (spilled data, scratch space)
    logs = str(client.get_worker_logs()) + str(client.get_scheduler_logs()) + str(records)
    scratch = client.run(lambda dask_worker: dask_worker.local_directory)
    files = [p for folder in scratch.values() for p in Path(folder).rglob("*") if p.is_file()]
    for secret in KEYS.values():
        assert secret not in logs
        assert not any(secret.encode() in p.read_bytes() for p in files)


def test_a_worker_killed_mid_run_leaves_the_same_database(single_process, dask_cluster, pg_cluster, replay, tmp_path) -> None:
    expected_summary, expected_db, expected_corpus = single_process
    cluster, client = dask_cluster
    db = pg_cluster.new_database()
    result: dict = {}

    def run() -> None:
        result["summary"] = extract_articles(SUBSET, corpus=tmp_path / "corpus", db=db, method="watershed", harvest_config=FAST,
                                             cluster=cluster.scheduler_address)

    pids = client.run(os.getpid)
    replay.latency_s = 0.1  # the run lasts long enough to be cut
    try:
        runner = threading.Thread(target=run)
        runner.start()
        with open_db(db) as database:
            deadline = time.monotonic() + 120
            while not any(job.startswith("figures:") for job in database.read_table("jobs")["job"]) and time.monotonic() < deadline:
                time.sleep(0.05)
            killed_at = database.counts()
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        runner.join(timeout=300)
    finally:
        replay.latency_s = 0.0
    assert not runner.is_alive()
    assert killed_at["jobs"] < 3 + 5  # the kill came before every article and figure was finished
    assert _statuses(result["summary"]) == _statuses(expected_summary)
    assert _tables(db, tmp_path / "corpus") == _tables(expected_db, expected_corpus)
    client.wait_for_workers(2, timeout=60)  # the nanny started a new worker process in its place
    assert victim not in client.run(os.getpid).values()


def test_rate_limit_and_retry_after_hold_for_the_whole_cluster(dask_cluster, replay, tmp_path) -> None:
    """Requests per service at or under the limit over both workers, and after a 429 with
    Retry-After: 1 no request to that service from any worker for a second."""
    cluster, _ = dask_cluster
    rate = 4.0
    config = fast_config(rates_per_s={name: rate for name in FAST.rates_per_s})
    replay.clear_seen()
    replay.add_fault("/elsevier/content/article/*", Fault("status", times=1, status=429, headers={"Retry-After": "1"}))
    summary = extract_articles(DEMO_DOIS, corpus=tmp_path / "corpus", db=tmp_path / "ide.sqlite", method=None, scalebar=False,
                               harvest_config=config, cluster=cluster.scheduler_address, cluster_writes="client")
    assert summary.count("done") == len(DEMO_DOIS)
    by_service: dict[str, list[float]] = defaultdict(list)
    prefixes = sorted(SERVICE_PREFIXES.values(), key=len, reverse=True)
    for seen in replay.seen:
        by_service[next(p for p in prefixes if seen.path.startswith(p + "/"))].append(seen.at)
    assert len(by_service["/elsevier"]) > 2 * rate  # enough requests to break the limit twice over if it did not hold
    for service, times in by_service.items():
        times.sort()
        # in any one second at most `rate` request starts, and one more for the jitter of arrival
        busiest = max(sum(t <= later < t + 1.0 for later in times) for t in times)
        assert busiest <= rate + 1, (service, busiest)
    # Retry-After: no request after the 429 but those already on their way (sent before the answer came)
    refused = next(s for s in replay.seen if s.path.startswith("/elsevier/content/article/"))
    later = [t - refused.at for t in by_service["/elsevier"] if t > refused.at]
    assert later and not [t for t in later if 0.1 < t < 1.0 - 0.05], later


@pytest.mark.slow  # starts a third worker process
def test_learned_segmentation_goes_to_the_gpu_worker(dask_cluster, replay, tmp_path) -> None:
    """A worker started as a site would (``dask worker ... --resources GPU=1``) gets every figure
    task of a learned method; loads go anywhere. (No CUDA here: the GPU worker runs on its CPU.)"""
    cluster, client = dask_cluster
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address, "--nthreads", "1",
                               "--resources", "GPU=1", "--no-dashboard", "--name", "gpu-worker"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client.wait_for_workers(3, timeout=120)
        gpu_address = next(a for a, w in client.scheduler_info(n_workers=-1)["workers"].items() if w.get("resources", {}).get("GPU"))
        client.get_task_stream()
        summary = extract_articles(SUBSET, corpus=tmp_path / "corpus", db=tmp_path / "ide.sqlite", method="unet", harvest_config=FAST,
                                   cluster=cluster.scheduler_address, cluster_writes="client")
        assert summary.count("done") == len(SUBSET) and summary.n_em_panels == 3
        where = {str(r["key"]): r["worker"] for r in client.get_task_stream()}
        figures = {key: address for key, address in where.items() if key.startswith("ide-figure-")}
        assert len(figures) == 5 and set(figures.values()) == {gpu_address}
        # the worker loaded the network once for its 3 EM panels (a cache per process)
        from imagedataextractor.segment.learned import _model

        loads = client.run(lambda: _model._load.cache_info().misses, workers=[gpu_address])
        assert loads == {gpu_address: 1}
    finally:
        worker.send_signal(signal.SIGINT)  # the worker leaves the scheduler and exits
        worker.wait(timeout=60)


def _cli(dois: Path, out: Path, db: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "imagedataextractor", "extract", "--doi-list", str(dois), "--out", str(out), "--db", db,
            "--method", "watershed", "--no-progress", "--cluster", "local:2", *extra]


@pytest.mark.slow  # two local:2 clusters of the command line's own
def test_cli_client_killed_mid_run_resumes_to_the_same_database(single_process, pg_cluster, replay, tmp_path) -> None:
    """``ide extract --doi-list --cluster local:2 --db postgresql://...``: the client SIGKILLed
    mid-run (its workers go with it), the same command again finishes the run; the database equals
    the single-process run's."""
    import psutil

    expected_summary, expected_db, expected_corpus = single_process
    dois = tmp_path / "dois.txt"
    dois.write_text("\n".join(SUBSET) + "\n")
    db = pg_cluster.new_database()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    replay.latency_s = 0.1
    try:
        client = subprocess.Popen(_cli(dois, tmp_path / "out", db), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open_db(db) as database:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and client.poll() is None:
                if database.read_table("jobs")["job"].str.startswith("figures:").any():
                    break
                time.sleep(0.05)
        workers = psutil.Process(client.pid).children(recursive=True)
        client.kill()
        client.wait(timeout=60)
        _, alive = psutil.wait_procs(workers, timeout=60)
        assert alive == []  # no worker process outlives its client
        with open_db(db) as database:
            assert len(database.read_table("jobs")) < 3 + 5  # cut before the end
        again = subprocess.run(_cli(dois, tmp_path / "out", db, "--json"), env=env, capture_output=True, text=True, timeout=300)
    finally:
        replay.latency_s = 0.0
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Dask dashboard: http://" in again.stderr
    assert _tables(db, tmp_path / "out" / "corpus") == _tables(expected_db, expected_corpus)
