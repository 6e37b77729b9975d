"""What apps import: `App`, `endpoint`, `realtime`, progress and request context, and the errors.

The platform also uses `describe`, `endpoint_models`, `collect_endpoints`, `load_app`,
`app_id_for` and the request-binding hooks to inspect and run app classes. Imports nothing
else of openfal.
"""

from openfal.sdk._app import App
from openfal.sdk._context import (
    RequestContext,
    bind_request,
    current_request,
    report_progress,
)
from openfal.sdk._describe import describe, endpoint_models
from openfal.sdk._endpoint import Endpoint, RealtimeSpec, collect_endpoints, endpoint, realtime
from openfal.sdk._exceptions import (
    AppDefinitionError,
    AppException,
    AppLoadError,
    FieldException,
    OpenfalError,
    RequestCancelled,
)
from openfal.sdk._loader import load_app
from openfal.sdk._settings import DEFAULTS as SETTING_DEFAULTS
from openfal.sdk._settings import UnknownSettingWarning, app_id_for

__all__ = [
    "SETTING_DEFAULTS",
    "App",
    "AppDefinitionError",
    "AppException",
    "AppLoadError",
    "Endpoint",
    "FieldException",
    "OpenfalError",
    "RealtimeSpec",
    "RequestCancelled",
    "RequestContext",
    "UnknownSettingWarning",
    "app_id_for",
    "bind_request",
    "collect_endpoints",
    "current_request",
    "describe",
    "endpoint",
    "endpoint_models",
    "load_app",
    "realtime",
    "report_progress",
]
