"""Measuring requests: timing, the wire formats servers send, token accounting, memory and noise."""
