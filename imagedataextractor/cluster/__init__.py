"""CLUSTER adapter: ``ide extract --cluster`` on Dask distributed (local worker processes, a running
scheduler, or SLURM / PBS / LSF jobs through dask-jobqueue).

:mod:`.config` parses the address and the jobs' config file without Dask; :mod:`.engine` (imported
only when a cluster is used, as Dask is the optional extra ``distributed``) connects to the
cluster, ships a run's shared objects to every worker process once, and keeps a publisher's rate
limit on the scheduler for all workers. The article runner
(:func:`imagedataextractor.literature.extract_articles`) decides what the tasks are.
"""

from .config import BATCH_SYSTEMS, ClusterSpec, JobsConfig, load_jobs_config, parse_cluster

__all__ = ["BATCH_SYSTEMS", "ClusterSpec", "JobsConfig", "load_jobs_config", "parse_cluster"]
