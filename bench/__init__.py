"""Benchmarks: each script runs on its own (python bench/NAME.py) and prints what it measured."""
