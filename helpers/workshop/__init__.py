"""The live workshop: pre-flight checklist, terminal model verbs in both Foundry Local CLI spellings, the instructor's rehearsal."""
