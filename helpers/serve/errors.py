"""The errors of reaching a model: not found, offline, a bundled model asked to download, a bad port or endpoint,
a taken port. Each is a ClearError: the command line prints its message as one line."""
from __future__ import annotations

from ..core.errors import ClearError


class ModelNotFoundError(ClearError, LookupError):
    """No model with that alias or id in any catalog the kit can see."""


class OfflineError(ClearError, ConnectionError):
    """A download was asked for while the public catalog is unreachable."""


class BundledModelError(ClearError, ValueError):
    """An action meant for downloaded catalog models was asked of a bundled or converted model."""


class PortSettingError(ClearError, ValueError):
    """A port (--port or FOUNDRY_LAB_PORT) that is not a whole number from 0 to 65535."""


class EndpointError(ClearError, ConnectionError):
    """FOUNDRY_LOCAL_ENDPOINT (or --endpoint) is not a URL, or no server answers there."""


class PortInUseError(ClearError, OSError):
    """The kit's port is taken; the message says by whom (the kit elsewhere, or a foreign program) and what to do."""
