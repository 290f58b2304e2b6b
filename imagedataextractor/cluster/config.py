"""Where the work runs: ``--cluster ADDRESS`` parsed, and the YAML file that configures a batch
scheduler's jobs (``--cluster-config``), checked key by key. Nothing here imports Dask.

ADDRESS is ``local:N`` (a Dask ``LocalCluster`` of N worker processes on this machine),
``tcp://HOST:PORT`` or ``tls://HOST:PORT`` (an existing Dask scheduler), or ``slurm``, ``pbs`` or
``lsf`` (dask-jobqueue, one batch job per :class:`JobsConfig`'s job). A config file looks like::

    queue: gpu                # partition (SLURM) or queue (PBS, LSF)
    account: my-project       # optional
    cores: 8                  # per job
    memory: 32GB              # per job
    walltime: "04:00:00"
    gpus: 1                   # 0 or 1 per job; a GPU job's worker declares the resource GPU=1
    jobs: 10                  # a fixed number of jobs, or instead:
    # adaptive: {minimum: 1, maximum: 20}
    job_script_prologue: ["module load cuda", "source ~/ide-venv/bin/activate"]
    job_extra_directives: ["--constraint=a100"]
    local_directory: /tmp     # worker scratch space (spilled data)
    interface: ib0            # network interface the workers listen on
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from ..errors import ClusterError

BatchSystem = Literal["slurm", "pbs", "lsf"]
BATCH_SYSTEMS: tuple[BatchSystem, ...] = ("slurm", "pbs", "lsf")
_WALLTIME = re.compile(r"^(\d+:)?\d{1,2}:\d{2}$")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)


@dataclass(frozen=True)
class JobsConfig:
    """One batch job's resources, and how many jobs: ``jobs`` fixed, or ``adaptive`` (minimum,
    maximum) scaled by Dask with the work waiting. memory: e.g. "32GB" per job; walltime: "HH:MM:SS"
    (or "MM:SS"); gpus: 0 or 1 per job (a GPU job runs one worker process, which declares the Dask
    resource GPU=1). ``processes``: worker processes per job (CPU jobs)."""

    queue: str | None = None
    account: str | None = None
    cores: int = 1
    processes: int = 1
    memory: str = "4GB"
    walltime: str = "01:00:00"
    gpus: int = 0
    jobs: int | None = None
    adaptive: tuple[int, int] | None = None
    job_script_prologue: tuple[str, ...] = ()
    job_extra_directives: tuple[str, ...] = ()
    local_directory: str | None = None
    interface: str | None = None
    source: str = field(default="JobsConfig", compare=False)  # the file it came from, for messages

    def __post_init__(self) -> None:
        def fail(key: str, problem: str) -> None:
            raise ClusterError(f"{self.source}: {key}: {problem}")

        for key in ("cores", "processes"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                fail(key, f"{value!r} must be a whole number, at least 1")
        if not isinstance(self.gpus, int) or isinstance(self.gpus, bool) or self.gpus not in (0, 1):
            fail("gpus", f"{self.gpus!r} must be 0 or 1 (one GPU worker per job)")
        if self.gpus and self.processes != 1:
            fail("processes", f"{self.processes} with gpus: 1; a GPU job runs one worker process")
        if self.processes > self.cores:
            fail("processes", f"{self.processes} is more than the job's {self.cores} cores")
        if not isinstance(self.memory, str) or not _MEMORY.match(self.memory.strip()):
            fail("memory", f"{self.memory!r} is not a size such as 32GB")
        if not isinstance(self.walltime, str) or not _WALLTIME.match(self.walltime):
            fail("walltime", f"{self.walltime!r} is not HH:MM:SS")
        if (self.jobs is None) == (self.adaptive is None):
            fail("jobs", "give either jobs (a number) or adaptive (minimum, maximum), not both or neither")
        if self.jobs is not None and (not isinstance(self.jobs, int) or isinstance(self.jobs, bool) or self.jobs < 1):
            fail("jobs", f"{self.jobs!r} must be a whole number, at least 1")
        if self.adaptive is not None:
            low, high = self.adaptive
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (low, high)) or not 0 <= low <= high or high < 1:
                fail("adaptive", f"minimum {low!r}, maximum {high!r}: need 0 <= minimum <= maximum, maximum at least 1")
        for key in ("queue", "account", "local_directory", "interface"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                fail(key, f"{value!r} must be a non-empty string")
        for key in ("job_script_prologue", "job_extra_directives"):
            if not all(isinstance(line, str) for line in getattr(self, key)):
                fail(key, "must be a list of strings")

    def jobqueue_arguments(self, system: BatchSystem) -> dict[str, Any]:
        """Keyword arguments of dask-jobqueue's ``SLURMCluster``, ``PBSCluster`` or ``LSFCluster``."""
        directives = list(self.job_extra_directives)
        worker_args: list[str] = []
        if self.gpus:
            directives.append({"slurm": "--gres=gpu:1", "pbs": "-l ngpus=1", "lsf": '-gpu "num=1"'}[system])
            worker_args = ["--resources", "GPU=1"]
        arguments: dict[str, Any] = {
            "cores": self.cores,
            "processes": self.processes,
            "memory": self.memory.replace(" ", ""),
            "walltime": self.walltime if system != "lsf" else self.walltime.rsplit(":", 1)[0],  # LSF's -W is [HH:]MM
            "job_extra_directives": directives,
            "worker_extra_args": worker_args,
            "job_script_prologue": list(self.job_script_prologue),
        }
        if self.account is not None:
            arguments["account" if system != "lsf" else "project"] = self.account
        for key in ("queue", "local_directory", "interface"):
            if getattr(self, key) is not None:
                arguments[key] = getattr(self, key)
        return arguments


def load_jobs_config(path: str | Path) -> JobsConfig:
    """Read and check a cluster config file (YAML, keys of :class:`JobsConfig`); any problem is a
    one-line :class:`~imagedataextractor.errors.ClusterError` naming the file and the key."""
    try:
        import yaml
    except ModuleNotFoundError:
        raise ClusterError(f"{path}: reading a cluster config needs PyYAML: pip install 'imagedataextractor[distributed]'") from None
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ClusterError(f"{path}: cannot read cluster config ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ClusterError(f"{path}: {where}not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    if not isinstance(data, dict):
        raise ClusterError(f"{path}: expected a mapping of settings (queue, cores, memory, ...), got {type(data).__name__}")
    known = {f.name for f in fields(JobsConfig)} - {"source"}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise ClusterError(f"{path}: {', '.join(unknown)}: not a setting (choose from {', '.join(sorted(known))})")
    values = dict(data)
    adaptive = values.get("adaptive")
    if adaptive is not None:
        if not isinstance(adaptive, dict) or set(adaptive) - {"minimum", "maximum"} or "maximum" not in adaptive:
            raise ClusterError(f"{path}: adaptive: {adaptive!r} must be a mapping with maximum (and minimum)")
        values["adaptive"] = (adaptive.get("minimum", 0), adaptive["maximum"])
    for key in ("job_script_prologue", "job_extra_directives"):
        if key in values:
            if not isinstance(values[key], list):
                raise ClusterError(f"{path}: {key}: must be a list of strings")
            values[key] = tuple(values[key])
    return JobsConfig(**values, source=str(path))


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--cluster`` address: kind "local" (``n_workers`` processes), "scheduler"
    (``address`` of a running Dask scheduler) or a batch system (``jobs`` from the config file)."""

    kind: Literal["local", "scheduler", "slurm", "pbs", "lsf"]
    n_workers: int = 0
    address: str | None = None
    jobs: JobsConfig | None = None

    def __str__(self) -> str:
        return {"local": f"local:{self.n_workers}", "scheduler": str(self.address)}.get(self.kind, self.kind)


def parse_cluster(address: str, config_file: str | Path | None = None) -> ClusterSpec:
    """``--cluster ADDRESS`` (and ``--cluster-config FILE`` for a batch system) as a
    :class:`ClusterSpec`; a bad address is a one-line :class:`~imagedataextractor.errors.ClusterError`."""
    text = address.strip()
    lowered = text.lower()
    if lowered in BATCH_SYSTEMS:
        if config_file is None:
            raise ClusterError(f"--cluster {text}: give the jobs' queue, cores, memory and walltime in --cluster-config FILE")
        return ClusterSpec(lowered, jobs=load_jobs_config(config_file))
    if config_file is not None:
        raise ClusterError(f"--cluster-config is for --cluster slurm, pbs or lsf, not {text}")
    if lowered.startswith("local:"):
        count = text.split(":", 1)[1]
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--cluster {text}: local:N needs a number of worker processes, at least 1")
        return ClusterSpec("local", n_workers=int(count))
    match = re.fullmatch(r"(tcp|tls)://[^\s/:]+:(\d+)", text)
    if match:
        return ClusterSpec("scheduler", address=text)
    raise ClusterError(f"--cluster {text}: expected local:N, tcp://HOST:PORT, slurm, pbs or lsf")
