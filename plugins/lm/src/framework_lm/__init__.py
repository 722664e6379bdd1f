"""framework-lm: GPT-style language-model training with exact resume."""
