"""Answer quality scorers that read meaning: instruction checks, code run in a sandbox, atomic facts, one score."""
