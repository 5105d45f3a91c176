"""Benchmarks that print ratios against a bare baseline measured in the same run."""
