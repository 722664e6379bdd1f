"""Loading untrusted tensor files: never run pickled code, and say plainly what is wrong."""

from __future__ import annotations

import os
import pickle
import zipfile
from typing import Any


class UnreadableFileError(ValueError):
    """A file that `torch_load` refused; the message is one sentence for the user."""


def torch_load(path: str | os.PathLike[str], map_location: Any = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``; a failure is an `UnreadableFileError` saying
    what the file is (torch's own errors are long and can advise turning the safety off)."""
    import torch

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise UnreadableFileError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise UnreadableFileError(f"{path} is a directory, not a file") from None
    except pickle.UnpicklingError:
        if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
            raise UnreadableFileError(f"{path} was not written by torch.save") from None
        raise UnreadableFileError(
            f"{path} holds Python objects other than tensors and plain data; only those "
            "are loaded (weights_only), so save tensors, numbers, strings, lists and dicts"
        ) from None
    except (RuntimeError, EOFError, KeyError, ValueError, OSError):
        size = os.path.getsize(path)
        what = "is empty" if size == 0 else "is truncated or was not written by torch.save"
        raise UnreadableFileError(f"{path} {what} ({size} bytes)") from None
