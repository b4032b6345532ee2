"""Presentation: charts, notebook widgets, report rendering, catalog tables."""
