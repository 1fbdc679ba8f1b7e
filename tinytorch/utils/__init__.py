"""Utilities shared by the modules: profiling and hardware detection."""
