"""``--cluster`` addresses and the batch jobs' config file: parsed, refused with one line naming the
file and key, and turned into the job script dask-jobqueue submits (no batch system needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from imagedataextractor.cli import main
from imagedataextractor.cluster import ClusterSpec, load_jobs_config, parse_cluster
from imagedataextractor.errors import ClusterError

SLURM_CONFIG = """\
queue: gpu
account: nano-project
cores: 8
memory: 32GB
walltime: "04:00:00"
gpus: 1
adaptive: {minimum: 1, maximum: 20}
job_script_prologue: ["module load cuda/12.4", "source ~/ide-venv/bin/activate"]
job_extra_directives: ["--constraint=a100"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def test_addresses_are_parsed() -> None:
    assert parse_cluster("local:3") == ClusterSpec("local", n_workers=3)
    assert parse_cluster("tcp://10.0.0.5:8786") == ClusterSpec("scheduler", address="tcp://10.0.0.5:8786")
    assert str(parse_cluster("local:2")) == "local:2"


@pytest.mark.parametrize(
    ("address", "config", "message"),
    [
        ("local:0", None, "--cluster local:0: local:N needs a number of worker processes, at least 1"),
        ("local:two", None, "--cluster local:two: local:N needs a number of worker processes, at least 1"),
        ("10.0.0.5:8786", None, "--cluster 10.0.0.5:8786: expected local:N, tcp://HOST:PORT, slurm, pbs or lsf"),
        ("slurm", None, "--cluster slurm: give the jobs' queue, cores, memory and walltime in --cluster-config FILE"),
        ("local:2", "cluster.yaml", "--cluster-config is for --cluster slurm, pbs or lsf, not local:2"),
    ],
)
def test_bad_addresses_are_one_line(address: str, config: str | None, message: str) -> None:
    with pytest.raises(ClusterError) as caught:
        parse_cluster(address, config)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queue: gpu\njobs: 2\ncores: 0\n", "cores: 0 must be a whole number, at least 1"),
        ("jobs: 2\nmemory: lots\n", "memory: 'lots' is not a size such as 32GB"),
        ("jobs: 2\nwalltime: 4h\n", "walltime: '4h' is not HH:MM:SS"),
        ("cores: 4\n", "jobs: give either jobs (a number) or adaptive (minimum, maximum), not both or neither"),
        ("jobs: 2\nadaptive: {maximum: 3}\n", "jobs: give either jobs (a number) or adaptive (minimum, maximum), not both or neither"),
        ("adaptive: {minimum: 5, maximum: 2}\n", "adaptive: minimum 5, maximum 2: need 0 <= minimum <= maximum, maximum at least 1"),
        ("jobs: 1\ngpus: 2\n", "gpus: 2 must be 0 or 1 (one GPU worker per job)"),
        ("jobs: 1\ncores: 4\nprocesses: 2\ngpus: 1\n", "processes: 2 with gpus: 1; a GPU job runs one worker process"),
        ("jobs: 1\nqueues: gpu\n", "queues: not a setting (choose from account, adaptive, cores, gpus, interface, job_extra_directives, "
         "job_script_prologue, jobs, local_directory, memory, processes, queue, walltime)"),
        ("jobs: 1\njob_script_prologue: module load cuda\n", "job_script_prologue: must be a list of strings"),
        ("- queue: gpu\n", "expected a mapping of settings (queue, cores, memory, ...), got list"),
        ("queue: [gpu\n", "line 2: not valid YAML (expected ',' or ']', but got '<stream end>')"),
    ],
)
def test_bad_config_files_are_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ClusterError) as caught:
        load_jobs_config(path)
    assert str(caught.value) == f"{path}: {message}"
    assert "\n" not in str(caught.value)


def test_slurm_job_script_from_a_config_file(tmp_path: Path) -> None:
    pytest.importorskip("dask_jobqueue", reason="the extra 'distributed' is not installed")
    from imagedataextractor.cluster.engine import job_script

    spec = parse_cluster("slurm", _write(tmp_path, SLURM_CONFIG))
    assert spec.jobs is not None and spec.jobs.adaptive == (1, 20)
    script = job_script(spec)
    lines = script.splitlines()
    assert lines[0] == "#!/usr/bin/env bash"
    for directive in ("#SBATCH -p gpu", "#SBATCH -A nano-project", "#SBATCH -n 1", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=30G",
                      "#SBATCH -t 04:00:00", "#SBATCH --constraint=a100", "#SBATCH --gres=gpu:1"):
        assert directive in lines, directive
    assert lines.index("module load cuda/12.4") < lines.index("source ~/ide-venv/bin/activate") < len(lines) - 1
    worker = lines[-1]
    assert "distributed.cli.dask_worker" in worker and "--nthreads 8" in worker and "--resources GPU=1" in worker


def test_cli_refuses_a_bad_cluster_in_one_line(tmp_path: Path) -> None:
    dois = tmp_path / "dois.txt"
    dois.write_text("10.1016/j.snb.2019.127107\n")
    result = CliRunner().invoke(main, ["extract", "--doi-list", str(dois), "--out", str(tmp_path / "out"), "--cluster", "local:none"])
    assert result.exit_code == 2
    assert "Invalid value for '--cluster': --cluster local:none: local:N needs a number of worker processes, at least 1" in result.output
    config = _write(tmp_path, "jobs: 1\nwalltime: 4h\n")
    result = CliRunner().invoke(main, ["extract", "--doi-list", str(dois), "--out", str(tmp_path / "out"), "--cluster", "slurm",
                                       "--cluster-config", str(config)])
    assert result.exit_code == 2
    assert f"{config}: walltime: '4h' is not HH:MM:SS" in result.output
