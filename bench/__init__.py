"""Benchmarks (scripts; this file lets the parts of bench/e2e.py import each other)."""
