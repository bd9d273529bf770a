"""Throughput benchmarks: scripts that print figures. Nothing here is collected by pytest."""
