"""Core building blocks: tensors, activations, layers, convolutions, kernels."""
