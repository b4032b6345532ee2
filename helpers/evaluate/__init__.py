"""Judging answers and choosing models: quality scorers (facets, ROUGE, judge, checks, code tests, facts), gates, ranking."""
