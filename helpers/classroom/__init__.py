"""One comparison across a class: share bundles, the collector attendees send them to, the merged class report."""
