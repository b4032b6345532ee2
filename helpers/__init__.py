"""Helpers for Foundry Local Model Lab: paths, timing, statistics."""

__version__ = "0.1.0"
