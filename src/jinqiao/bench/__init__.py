"""Benchmarks: what one node applies per second and what a local network commits, each
reported as JSON with its setup and a plot (``jinqiao bench ...``; docs/performance.md)."""
