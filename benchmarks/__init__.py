"""Benchmarks: run as scripts (``python benchmarks/pages.py``); figures, then a verdict line."""
