"""What the wheels carry besides code: a non-editable install must find its data files.

An editable install reads them from the source tree, so only a built wheel shows a file
that the package-data settings leave out (the manifest schema every run validates
against, the pretrained model `ptycho.reconstruct --bundle pretrained` loads)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO


@pytest.mark.parametrize(
    ("project", "sources", "data_file"),
    [
        (".", ["pyproject.toml", "README.md", "core"], "framework/schemas/manifest.schema.json"),
        ("plugins/ptycho", ["pyproject.toml", "src"], "framework_ptycho/pretrained/pretrained.zip"),
    ],
)
def test_the_built_wheel_carries_the_package_data(project, sources, data_file, tmp_path):
    # Built from a copy: setuptools leaves a build/ folder beside the sources, which a
    # later build would reuse (and which must not land in the checkout).
    tree = tmp_path / "tree"
    for name in sources:
        source = REPO / project / name
        if source.is_dir():
            shutil.copytree(
                source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            tree.mkdir(exist_ok=True)
            shutil.copy(source, tree / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path / "dist"), str(tree)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout + build.stderr
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    assert data_file in zipfile.ZipFile(wheel).namelist()
