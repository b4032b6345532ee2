"""What attendees see: tables, charts, widgets, progress and the claims printed from a run."""
