"""The live workshop: the Foundry Local CLI spellings the kit answers, and the instructor's rehearsal."""
