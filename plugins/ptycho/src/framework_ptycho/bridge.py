"""The legacy bridge: the typed train config as PtychoPINN's flat ``params.cfg`` dict.

Registered through ``register_config_bridges`` for ``ptycho.train``: the runner calls
`to_params` once per job before the step, records the dict in the manifest and hands it
to the step as ``ctx.legacy["params"]``; the step stores it in the model bundle.
``ptycho.infer`` restores the train config from the bundle and bridges it again.
"""

from __future__ import annotations

from typing import Any

BRIDGE_NAME = "params"


def to_params(config: Any) -> dict[str, Any]:
    """PtychoPINN's key names for the values it shares with the typed config."""
    return {
        "gridsize": config.gridsize,
        "nphotons": float(config.nphotons),
        "nepochs": config.max_epochs,
        "batch_size": config.batch_size,
        "n_filters_scale": config.n_filters_scale,
        "probe.trainable": bool(config.probe_trainable),
        "intensity_scale.trainable": True,
        "n_groups": config.n_groups,
        "K": config.k_neighbours,
        "learning_rate": config.learning_rate,
        "nll_weight": 1.0 if config.loss == "poisson" else 0.0,
        "mae_weight": 1.0 if config.loss == "mae" else 0.0,
    }


def with_data(params: dict[str, Any], n: int, intensity_scale: float) -> dict[str, Any]:
    """The dict completed with what only the data tells (N and the intensity scale)."""
    return {**params, "N": n, "intensity_scale": float(intensity_scale)}
