"""Our dist-info scan finds the same entry points importlib.metadata finds."""

from __future__ import annotations

import importlib
from importlib import metadata

import pytest
from framework.entrypoints import entry_points


def reference(group: str) -> set[tuple[str, str, str | None, str | None]]:
    found = set()
    seen = set()
    for ep in metadata.entry_points(group=group):
        dist = ep.dist
        key = (ep.name, dist.metadata["Name"] if dist else None)
        if key in seen:
            continue
        seen.add(key)
        found.add(
            (
                ep.name,
                ep.value,
                dist.metadata["Name"] if dist else None,
                dist.version if dist else None,
            )
        )
    return found


def ours(group: str) -> set[tuple[str, str, str | None, str | None]]:
    return {(ep.name, ep.value, ep.distribution, ep.version) for ep in entry_points(group)}


@pytest.mark.parametrize("group", ["framework.plugins", "console_scripts", "pytest11"])
def test_scan_matches_importlib_metadata_for_installed_distributions(group):
    assert ours(group) == reference(group)


def test_first_distribution_on_sys_path_wins(tmp_path, monkeypatch):
    for folder, version in (("first", "2.0"), ("second", "1.0")):
        info = tmp_path / folder / f"fwdup-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fwdup\nVersion: {version}\n")
        (info / "entry_points.txt").write_text("[fwtest.group]\ndup = fwdup_mod\n")
    monkeypatch.syspath_prepend(str(tmp_path / "second"))
    monkeypatch.syspath_prepend(str(tmp_path / "first"))
    importlib.invalidate_caches()

    assert (
        ours("fwtest.group") == reference("fwtest.group") == {("dup", "fwdup_mod", "fwdup", "2.0")}
    )


def test_egg_info_directories_are_read_too(tmp_path, monkeypatch):
    info = tmp_path / "fwegg.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 1.2\nName: fwegg\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[fwtest.egg]\n# a comment\negg = fwegg_mod:hooks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()

    assert (
        ours("fwtest.egg")
        == reference("fwtest.egg")
        == {("egg", "fwegg_mod:hooks", "fwegg", "0.3")}
    )


def test_load_imports_the_named_object(tmp_path, monkeypatch):
    (tmp_path / "fwload_mod.py").write_text("VALUE = 42\n")
    info = tmp_path / "fwload-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fwload\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[fwtest.load]\nv = fwload_mod:VALUE\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()

    (ep,) = entry_points("fwtest.load")
    assert ep.load() == 42


def install(site, name: str, group: str = "fwtest.cache") -> None:
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{name} = {name}_mod\n")


def age(path, seconds: float) -> None:
    """Move a directory's modification time into the past (out of the racy window)."""
    import os
    import time

    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def cached_site(tmp_path, monkeypatch):
    """sys.path is one site folder; the cache lives in its own folder."""
    import sys

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("FRAMEWORK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "path", [str(site)])
    return site


def names(group: str = "fwtest.cache") -> set[str]:
    return {ep.name for ep in entry_points(group)}


def test_the_scan_is_cached_until_a_distribution_is_installed(cached_site, tmp_path):
    install(cached_site, "fwa")
    age(cached_site, 60)
    assert names() == {"fwa"}
    (cache,) = (tmp_path / "cache").iterdir()
    # The cache answers while the folder is unchanged: a planted row proves it is read.
    cache.write_text(cache.read_text() + "planted\tplanted_mod\t\t\n")
    assert names() == {"fwa", "planted"}
    install(cached_site, "fwb")  # a new folder changes the site's modification time
    assert names() == {"fwa", "fwb"}


def test_a_folder_modified_just_now_is_not_cached(cached_site, tmp_path):
    install(cached_site, "fwa")  # within the racy window: a change in the same tick
    assert names() == {"fwa"}
    assert not (tmp_path / "cache").exists()


def test_a_damaged_cache_is_ignored_and_an_empty_setting_turns_it_off(
    cached_site, tmp_path, monkeypatch
):
    install(cached_site, "fwa")
    age(cached_site, 60)
    assert names() == {"fwa"}
    (cache,) = (tmp_path / "cache").iterdir()
    key = cache.read_text().splitlines()[0]
    cache.write_text(key + "\nnot four fields\n")
    assert names() == {"fwa"}
    monkeypatch.setenv("FRAMEWORK_CACHE_DIR", "")
    cache.unlink()
    assert names() == {"fwa"} and not cache.exists()
