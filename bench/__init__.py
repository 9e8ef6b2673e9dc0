"""Benchmarks: each module runs on its own (see its docstring)."""
