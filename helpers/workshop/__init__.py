"""The workshop around the measurements: checklist, playground, probing, the picks that carry forward."""
