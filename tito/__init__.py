"""tito: the TinyTorch command line (export, module tests, grading, benchmarks)."""
