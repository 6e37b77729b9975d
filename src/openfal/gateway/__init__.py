"""The ASGI gateway: every client-facing surface on one port."""

from openfal.gateway.app import create_app
from openfal.gateway.registry import AppRegistry
from openfal.gateway.settings import GatewaySettings

__all__ = ["AppRegistry", "GatewaySettings", "create_app"]
