"""Helpers for Foundry Local Model Lab: paths, timing, statistics."""
