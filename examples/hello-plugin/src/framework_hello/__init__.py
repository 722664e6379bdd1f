"""Example framework plugin: a two-step pipeline that fits a line and evaluates it."""
