"""TensorBoard: event files under ``runs/<id>/tensorboard/``, written with tensorboard's
own event writer and protocol buffers (no torch, no TensorFlow).

Scalars are tagged ``<step>/<metric>`` (``train/loss``) at the step index the step
logged; the resolved config is a text summary; the run's PNGs are image summaries.
``tensorboard --logdir runs`` shows every run and sweep job side by side. A resumed run
writes a new event file in the same folder: its steps continue the same axis.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path

from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, tensor_shape_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

from framework.builtin.trackers.info import RunInfo

FOLDER = "tensorboard"


class TensorBoardTracker:
    def __init__(self, info: RunInfo) -> None:
        self.info = info
        self.logdir = info.run_dir / FOLDER
        self.writer: EventFileWriter | None = None

    def start(self) -> None:
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.writer = EventFileWriter(str(self.logdir), flush_secs=10)
        text = f"run `{self.info.run_id}`\n\n```json\n{self.info.config_text()}\n```"
        self._write(0, _text_value("config", text))

    def log_metrics(self, records: list[tuple[str, dict[str, float], int]]) -> None:
        for step_name, values, index in records:
            self._write(
                index,
                *(
                    summary_pb2.Summary.Value(tag=f"{step_name}/{key}", simple_value=value)
                    for key, value in values.items()
                ),
            )

    def log_files(self, files: list[tuple[Path, str]]) -> None:
        for path, folder in files:
            if path.suffix.lower() != ".png":
                continue
            data = path.read_bytes()
            width, height = png_size(data)
            image = summary_pb2.Summary.Image(
                height=height, width=width, colorspace=4, encoded_image_string=data
            )
            tag = f"{folder}/{path.name}" if folder else path.name
            self._write(0, summary_pb2.Summary.Value(tag=tag, image=image))

    def finish(self, status: str) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def _write(self, step: int, *values: summary_pb2.Summary.Value) -> None:
        assert self.writer is not None, "start() first"
        event = event_pb2.Event(
            wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=list(values))
        )
        self.writer.add_event(event)


def _text_value(tag: str, text: str) -> summary_pb2.Summary.Value:
    """A summary TensorBoard's text dashboard shows (markdown)."""
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
    )
    tensor = tensor_pb2.TensorProto(
        dtype=7,  # DT_STRING
        string_val=[text.encode("utf-8")],
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=1)]
        ),
    )
    return summary_pb2.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's header."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    width, height = struct.unpack(">II", data[16:24])
    return width, height
