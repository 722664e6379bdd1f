"""Frozen feature extractors, registered by name through the core's model hook.

A backbone is a torch module that takes images (B, 3, H, W) in [0, 1] of any size and
returns features (B, D). It carries `feature_dim`, `input_size` (the side its
preprocessing resizes to), `pretrained` (whether real weights were loaded) and
`weights_source` (where they came from); third-party backbones follow the same shape.
"""
