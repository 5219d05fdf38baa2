"""Numerics kernels: numba-compiled functions on plain arrays, one per job, named after the maths.

The API objects (descriptors, models, fits) call these; tests compare each with a slow, direct
twin written in plain Python/numpy.
"""
