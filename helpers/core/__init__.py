"""Core: paths, configuration files, errors, devices, versions, the API key (no kit imports above core)."""
