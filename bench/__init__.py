"""Throughput benchmarks: ``python -m bench`` prints library and HTTP figures next to their limits and
peers (see bench/RESULTS.md), ``python -m bench.profiling`` shows where the time goes. Nothing here is
collected by pytest."""
