"""TinyTorch: a deep-learning framework built module by module, down to the hardware.

Submodules are generated from the notebooks in ``modules/`` by ``tito export``;
import them directly, e.g. ``from tinytorch.core.kernels import matmul_parallel``.
"""

__version__ = "0.1.0"
