"""The API key of an external server (FOUNDRY_LOCAL_API_KEY): read in one place, and kept out of every output.

The kit sends the key on every request it makes (`service_routes.auth_headers`, `endpoints.openai_client`). Servers
may echo it back in an error ("Incorrect API key provided: Bearer KEY"), and such messages become trial records,
reports and printed lines: `redact` replaces the key in any text before the kit shows or writes it. Standard
library only.
"""
from __future__ import annotations

import os

API_KEY_ENV = "FOUNDRY_LOCAL_API_KEY"
REDACTED = "***"
MIN_REDACTED_LENGTH = 4  # a shorter "key" would blank out ordinary letters of a message


def api_key() -> str | None:
    """The key set in FOUNDRY_LOCAL_API_KEY, or None."""
    return os.environ.get(API_KEY_ENV) or None


def redact(text: str) -> str:
    """`text` with the API key (if one is set, 4+ characters) replaced by `***`."""
    key = api_key()
    return text.replace(key, REDACTED) if key and len(key) >= MIN_REDACTED_LENGTH else text
