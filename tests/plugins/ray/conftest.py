"""The `jobs` plugin on one local Ray cluster for the ray executor's tests."""

from tests.plugins.jobs import jobs_plugin, ray_cluster, ray_jobs  # noqa: F401
