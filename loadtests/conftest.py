"""Benchmarks and load tests: run by hand, never collected by pytest."""

collect_ignore_glob = ["*.py"]
