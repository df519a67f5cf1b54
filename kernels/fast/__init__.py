"""Specialised kernels for the built-in linear models, apart from the general engine.

``LinearRegression`` and ``SphereRegression`` (and subclasses that keep their
per-sample functions) run here on the CPU and the GPU: batch sums in 8-lane
vectors, the batch indices of 8 steps drawn at once, and Gaussian noise from the
data's fourth moments (the moment factor).  ``toylab._fast.choose`` picks them in
Python before anything compiles; each is tested equal, on the same random
stream, to the general kernel (``kernels.engine``).
"""
