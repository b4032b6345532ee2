"""Measurement: one timed request, the wire formats it reads, tokens, statistics, memory and energy estimates."""
