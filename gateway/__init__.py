"""The atdesk gateway: HTTP API and WebSocket for private consumer-brand messaging."""

from gateway.app import Gateway, create_app
from gateway.settings import Settings, SettingsError, load_settings

__all__ = ["Gateway", "Settings", "SettingsError", "create_app", "load_settings"]
