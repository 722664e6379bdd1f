"""Torch's launcher (`torch.distributed.run`, what `torchrun` is): the command that
starts N ranks of a `framework run`, and running it in the foreground."""

from __future__ import annotations

import os
from typing import Any

from framework.builtin.launch.output import RankOutput
from framework.distributed import COMMAND_ENV

# Set for the launcher: restarts are unreliable when workers share the rendezvous store.
LAUNCH_ENV = {"TORCH_DISABLE_SHARE_RDZV_TCP_STORE": "1"}


def launcher_command(
    nproc_per_node: int,
    args: list[str],
    *,
    nnodes: str | None = None,
    node_rank: int | None = None,
    master_addr: str | None = None,
    master_port: int | None = None,
    rdzv_endpoint: str | None = None,
    rdzv_id: str | None = None,
) -> list[str]:
    """``python -m torch.distributed.run ... -m framework ARGS``: what `--nproc-per-node` runs.

    With a rendezvous endpoint, `rdzv_id` (the run id) keeps two jobs that share the
    endpoint apart.
    """
    import sys

    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc_per_node}"]
    if nnodes is not None:
        cmd.append(f"--nnodes={nnodes}")
    if rdzv_endpoint is not None:
        cmd += ["--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}"]
        if rdzv_id is not None:
            cmd.append(f"--rdzv-id={rdzv_id}")
    else:
        if node_rank is not None:
            cmd.append(f"--node-rank={node_rank}")
        if master_addr is not None:
            cmd.append(f"--master-addr={master_addr}")
        if master_port is not None:
            cmd.append(f"--master-port={master_port}")
        if nnodes in (None, "1") and master_port is None:
            cmd.append("--standalone")  # one node: a free port, no rendezvous server to run
    return [*cmd, "-m", "framework", *args]


def launch(cmd: list[str], typed: list[str], nproc_per_node: int, *, debug: bool = False) -> int:
    """Run the launcher in the foreground and return its exit code (130: interrupted).

    Ctrl+C reaches the launcher (it shares the terminal's process group; the ranks have
    sessions of their own), which passes it on to the ranks; SIGTERM sent to this process
    is passed on to the launcher likewise. The ranks' stdout
    passes straight through; their stderr (the launcher's too) goes through `RankOutput`
    unless `debug`.
    """
    import json
    import subprocess
    import sys
    import threading

    env = {**os.environ, **LAUNCH_ENV, COMMAND_ENV: json.dumps(typed)}
    # The cores shared out between the ranks, unless the user chose (the launcher says 1).
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc_per_node)))
    process = subprocess.Popen(cmd, env=env, stderr=None if debug else subprocess.PIPE)
    output = RankOutput(sys.stderr)
    reader = None
    if process.stderr is not None:
        reader = threading.Thread(target=output.read, args=(process.stderr,), daemon=True)
        reader.start()
    stopped = _wait(process)
    if reader is not None:
        reader.join(timeout=30)  # the pipe closes when the last rank has exited
    code = 130 if stopped and process.returncode != 0 else int(process.returncode)
    output.finish(code)
    return code


def _wait(process: Any) -> bool:
    """Wait for the launcher; True when it was stopped by Ctrl+C or SIGTERM."""
    import signal
    import subprocess
    import threading

    stopped = False

    def forward(signum: int, frame: Any) -> None:
        nonlocal stopped
        stopped = True
        process.send_signal(signal.SIGTERM)

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, forward) if main else None
    try:
        try:
            process.wait()
        except KeyboardInterrupt:
            # The launcher got SIGINT too and passes it on; give the ranks time to record it.
            stopped = True
            try:
                process.wait(timeout=60)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                process.send_signal(signal.SIGTERM)
                process.wait()
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
    return stopped
