"""The Dask side of a cluster run (needs the extra ``distributed``).

- :func:`open_client`: a client of the cluster a :class:`~.config.ClusterSpec` names (a
  ``LocalCluster`` or dask-jobqueue cluster is started here and stopped on exit).
- :class:`RunOnWorkers`: a worker plugin carrying one run's shared values (settings, harvest keys,
  the database URL) to every worker process, including one started later to replace a lost worker.
  Its values travel once through the scheduler, never as task arguments: a credential among them
  is in no task key, task log line or spilled result. Objects built from them (a harvester, a
  database connection) are made once per worker process (:meth:`RunOnWorkers.shared`).
- :class:`SharedRateLimiter`: one publisher rate limit for the whole cluster: the next free request
  slot of each service lives on the scheduler (its task metadata), read and moved under a Dask
  ``Lock``; a 429's Retry-After moves it for every worker.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

from ..errors import ClusterError
from .config import ClusterSpec

try:
    import distributed
except ModuleNotFoundError:  # the optional extra is missing
    raise ClusterError("--cluster needs Dask distributed: pip install 'imagedataextractor[distributed]'") from None
from distributed import as_completed

__all__ = ["GPU_RESOURCE", "RunOnWorkers", "SharedRateLimiter", "as_completed", "gpu_workers", "job_script", "on_gpu_worker", "open_client", "run_values"]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: The Dask resource a GPU worker declares (``dask worker ... --resources GPU=1``).
GPU_RESOURCE = "GPU"


def jobqueue_cluster(spec: ClusterSpec) -> Any:
    """dask-jobqueue's cluster for a batch-system spec (jobs not yet submitted)."""
    if spec.jobs is None or spec.kind not in ("slurm", "pbs", "lsf"):
        raise ClusterError(f"--cluster {spec}: not a batch system")
    try:
        import dask_jobqueue
    except ModuleNotFoundError:
        raise ClusterError(f"--cluster {spec} needs dask-jobqueue: pip install 'imagedataextractor[distributed]'") from None
    kind = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster, "lsf": dask_jobqueue.LSFCluster}[spec.kind]
    # the dashboard on any free port: a login node often runs several schedulers
    return kind(**spec.jobs.jobqueue_arguments(spec.kind), scheduler_options={"dashboard_address": ":0"})


def job_script(spec: ClusterSpec) -> str:
    """The batch script dask-jobqueue submits for each job of ``spec`` (nothing is submitted)."""
    with jobqueue_cluster(spec) as cluster:
        return str(cluster.job_script())


@contextmanager
def open_client(spec: ClusterSpec) -> Iterator[distributed.Client]:
    """A Dask client of the cluster ``spec`` names: ``local:N`` starts N single-threaded worker
    processes here; a batch system submits its jobs (``jobs``, or adaptive between minimum and
    maximum). Clusters started here are closed on exit; a running scheduler is left running."""
    with ExitStack() as stack:
        quiet = logging.getLogger("distributed")
        if not log.isEnabledFor(logging.INFO):  # Dask's info lines (workers starting, closing) only with ide -v
            stack.callback(quiet.setLevel, quiet.level)
            quiet.setLevel(logging.WARNING)
        target: Any
        if spec.kind == "local":
            target = stack.enter_context(
                distributed.LocalCluster(n_workers=spec.n_workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                         silence_logs=logging.WARNING)
            )
        elif spec.kind == "scheduler":
            target = spec.address
        else:
            assert spec.jobs is not None  # parse_cluster reads the config file of a batch system
            target = stack.enter_context(jobqueue_cluster(spec))
            if spec.jobs.jobs is not None:
                target.scale(jobs=spec.jobs.jobs)
            else:
                assert spec.jobs.adaptive is not None  # JobsConfig checks one of them is given
                target.adapt(minimum_jobs=spec.jobs.adaptive[0], maximum_jobs=spec.jobs.adaptive[1])
        try:
            client = stack.enter_context(distributed.Client(target, timeout="30s"))
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"--cluster {spec}: cannot reach the Dask scheduler ({exc})") from None
        yield client


def gpu_workers(client: distributed.Client) -> int:
    """How many connected workers declare the GPU resource."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    return sum(1 for worker in workers if worker.get("resources", {}).get(GPU_RESOURCE, 0) >= 1)


class RunOnWorkers(distributed.WorkerPlugin):
    """One run's ``values`` on every worker process (see the module docstring); ``name`` is the
    plugin's name on the workers, unique per run. Register with
    ``client.register_plugin(plugin, name=plugin.name)``; tasks find it with :func:`run_values`."""

    def __init__(self, name: str, values: Any) -> None:
        self.name = name
        self.values = values
        self._made: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "values": self.values}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"], state["values"])  # type: ignore[misc]  # a fresh plugin on each worker

    def shared(self, name: str, make: Callable[[Any], T]) -> T:
        """The object ``make(values)`` of this worker process, made by the first task that asks."""
        with self._lock:
            if name not in self._made:
                self._made[name] = make(self.values)
            return self._made[name]

    def teardown(self, worker: distributed.Worker) -> None:
        """Close what the run's tasks opened on this worker (harvest sessions, database engine)."""
        for made in self._made.values():
            close = getattr(made, "close", None)
            if close is not None:
                close()
        self._made.clear()


def on_gpu_worker() -> bool:
    """Whether this task runs on a worker that declares the GPU resource and whose PyTorch sees CUDA."""
    if distributed.get_worker().state.total_resources.get(GPU_RESOURCE, 0) < 1:
        return False
    import torch

    return bool(torch.cuda.is_available())


def run_values(name: str) -> RunOnWorkers:
    """The :class:`RunOnWorkers` plugin ``name`` of the worker this task runs on."""
    plugin = distributed.get_worker().plugins.get(name)
    if not isinstance(plugin, RunOnWorkers):
        raise ClusterError(f"worker {distributed.get_worker().address}: run {name} is not registered here")
    return plugin


class SharedRateLimiter:
    """At most ``per_s`` request starts per second for ``service`` across every worker of the
    cluster, and a Retry-After honoured by all of them. The next free slot (a wall-clock time, so
    the workers' clocks must agree, as NTP keeps them within milliseconds) is kept in the
    scheduler's metadata; each request reserves one under a Dask ``Lock`` and, when its slot has
    come, checks that no Retry-After has paused the service meanwhile (five round trips to the
    scheduler, a few ms). A worker killed while holding the lock holds it until Dask's lease
    timeout (``distributed.scheduler.locks.lease-timeout``, 30 s)."""

    def __init__(self, service: str, per_s: float, client: distributed.Client | None = None) -> None:
        self._client = client or distributed.get_client()
        # kept in the scheduler's metadata: read with a default, no error while unset
        self._next_key = ["ide-rate-limit", service, "next"]
        self._pause_key = ["ide-rate-limit", service, "paused-until"]
        self._interval = 1.0 / per_s if per_s > 0 else 0.0
        self._lock = distributed.Lock(f"ide-rate-limit-{service}")  # on the scheduler this worker (or client) is connected to

    def _read(self, key: list[str]) -> float:
        return float(self._client.get_metadata(key, default=0.0))

    def wait(self) -> None:
        """Block until this worker may start a request: its slot has come, and no Retry-After
        received meanwhile (by any worker) says to wait longer."""
        while True:
            with self._lock:
                slot = max(time.time(), self._read(self._next_key))
                self._client.set_metadata(self._next_key, slot + self._interval)
            if slot > time.time():
                time.sleep(slot - time.time())
            if self._read(self._pause_key) <= time.time():
                return

    def back_off(self, seconds: float) -> None:
        """No worker starts a request for the next ``seconds`` (a server's Retry-After)."""
        with self._lock:
            until = time.time() + seconds
            self._client.set_metadata(self._pause_key, max(until, self._read(self._pause_key)))
            self._client.set_metadata(self._next_key, max(until, self._read(self._next_key)))
