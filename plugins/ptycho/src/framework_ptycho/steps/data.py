"""ptycho.simulate: simulated data (or the user's validated files) into data/*.npz."""

from __future__ import annotations

import numpy as np
from framework import ArtifactError, StepContext, UsageError

from framework_ptycho.config import SimulateConfig
from framework_ptycho.dataset import PtychoData, framed, load_npz
from framework_ptycho.steps.common import (
    TEST_FILE,
    TRAIN_FILE,
    TRUTH_FILE,
    record_splits,
    write_npz,
)


def _user_data(
    ctx: StepContext[SimulateConfig],
) -> tuple[PtychoData, PtychoData, np.ndarray | None]:
    cfg = ctx.config
    if cfg.train_data_file is None or cfg.test_data_file is None:
        ctx.fail("give both --train-data-file and --test-data-file (or neither, to simulate)")
    try:
        train, _ = framed(load_npz(cfg.train_data_file))
        test, _ = framed(load_npz(cfg.test_data_file))
    except ArtifactError as exc:  # the user's own file: a usage mistake, not a broken run
        raise UsageError(exc.message, hint=exc.hint) from None
    if train.n != test.n:
        ctx.fail(f"train patterns are {train.n}x{train.n} but test patterns {test.n}x{test.n}")
    truth = test.obj if test.obj is not None else train.obj
    return train, test, truth


def simulate(ctx: StepContext[SimulateConfig]) -> None:
    """Simulate a dataset (or validate the user's files) into data/*.npz."""
    from framework_ptycho.simulate import simulate as make

    cfg = ctx.config
    if cfg.train_data_file is not None or cfg.test_data_file is not None:
        if cfg.train_objects > 1:
            ctx.fail("--train-objects adds simulated objects; drop it when giving data files")
        train, test, truth = _user_data(ctx)
        source = "user files"
    else:
        if cfg.object_size < 2 * cfg.n:
            ctx.fail(f"--object-size {cfg.object_size} must be at least 2 x N = {2 * cfg.n}")
        train, test, truth = make(
            n=cfg.n,
            object_size=cfg.object_size,
            object_kind=cfg.test_kind,
            train_kinds=cfg.train_kinds,
            probe_aberration=cfg.probe_aberration,
            overlap=cfg.overlap,
            probe_radius=cfg.probe_radius * cfg.n,
            probe_defocus=cfg.probe_defocus,
            scan=cfg.scan,
            nphotons=cfg.nphotons,
            test_fraction=cfg.test_fraction,
            seed=ctx.execution.seed,
            train_objects=cfg.train_objects,
        )
        source = "simulated"
    if len(train) < 2 or len(test) < 1:
        ctx.fail(
            f"too few patterns ({len(train)} train, {len(test)} test): lower --overlap's step or enlarge --object-size"
        )
    record_splits(ctx, train, test)
    write_npz(ctx, TRAIN_FILE, train)
    write_npz(ctx, TEST_FILE, test)
    with ctx.output(TRUTH_FILE) as tmp, open(tmp, "wb") as fh:
        has = truth is not None
        np.savez(
            fh, object=truth if has else np.zeros((0, 0), np.complex64), has_object=np.array(has)
        )
    ctx.log_metrics(train_patterns=len(train), test_patterns=len(test), n=train.n)
    ctx.event("data_ready", source=source, train=len(train), test=len(test))
