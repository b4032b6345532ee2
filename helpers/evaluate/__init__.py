"""Judging answers and choosing models: quality, ROUGE, the judge, comparison, gates, ranking, routing."""
