"""torch_load: untrusted tensor files load without pickled code, and failures say what is wrong."""

from __future__ import annotations

import pytest
from framework import UnreadableFileError, torch_load

torch = pytest.importorskip("torch")


class Payload:
    """Anything that is not a tensor or plain data."""


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "ok.pt"
    torch.save({"w": torch.arange(4.0), "step": 3, "name": "x"}, path)
    return path


def test_tensors_and_plain_data_load(saved):
    state = torch_load(saved)
    assert torch.equal(state["w"], torch.arange(4.0))
    assert state["step"] == 3


def test_a_file_with_python_objects_is_refused_without_running_them(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save({"w": Payload()}, path)
    with pytest.raises(UnreadableFileError, match="Python objects other than tensors"):
        torch_load(path)


def test_a_truncated_file_is_named_with_its_size(tmp_path, saved):
    path = tmp_path / "cut.pt"
    path.write_bytes(saved.read_bytes()[:100])
    with pytest.raises(
        UnreadableFileError, match=r"truncated or was not written by torch.save \(100 bytes\)"
    ):
        torch_load(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(b"", "is empty"), (b"hello\n", "not written by torch.save"), (b"x" * 500, "torch.save")],
)
def test_empty_or_foreign_files_are_refused(tmp_path, content, expected):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    with pytest.raises(UnreadableFileError, match=expected):
        torch_load(path)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(UnreadableFileError, match="does not exist"):
        torch_load(tmp_path / "nope.pt")


def test_no_message_advises_turning_the_safety_off(tmp_path):
    path = tmp_path / "obj.pt"
    torch.save([Payload()], path)
    with pytest.raises(UnreadableFileError) as info:
        torch_load(path)
    assert "weights_only=False" not in str(info.value)
    assert "\n" not in str(info.value)
