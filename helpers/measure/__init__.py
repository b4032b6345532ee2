"""Measurement: one timed request, the wire formats it reads, token accounting, statistics, memory, energy and run-vs-run noise."""
