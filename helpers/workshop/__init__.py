"""Workshop verbs: pre-flight checklist, terminal model verbs, the timed chat."""
