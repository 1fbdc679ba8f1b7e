"""Helpers that module notebooks call (inline test runner)."""
