"""`tito benchmark kernels`: the kernels of `tinytorch.core.kernels` measured against each other and their goals."""
