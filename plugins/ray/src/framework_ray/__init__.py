"""framework-ray: run the jobs of `framework sweep` as Ray core tasks."""
