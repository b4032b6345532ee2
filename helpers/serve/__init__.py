"""Reaching models: the in-process runtime, endpoints, the web service front door, the app service, catalogs."""
