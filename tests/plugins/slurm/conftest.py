"""The `jobs` and `flaky` plugins, and the slurm executor itself, for these tests."""

import pytest

from tests.core.test_sweeps import flaky  # noqa: F401
from tests.plugins.jobs import jobs_plugin  # noqa: F401


@pytest.fixture(autouse=True)
def slurm_plugin(plugin_site):
    """The test plugins load alone; the slurm executor joins them."""
    plugin_site.enable("slurm")
