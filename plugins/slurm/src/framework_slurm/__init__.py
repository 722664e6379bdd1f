"""framework-slurm: run the jobs of `framework sweep` as Slurm job arrays (submitit)."""
