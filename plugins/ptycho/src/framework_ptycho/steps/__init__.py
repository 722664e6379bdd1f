"""The step callables, one module per concept: data, train, infer, iterative
(the baseline engines and PINN-initialised refinement), evaluate, and reconstruct (a
shipped, pretrained bundle on the user's own file).

Each receives a framework StepContext and writes only through it (atomic outputs).
"""
