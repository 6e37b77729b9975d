"""openfal: a self-hostable inference platform that speaks the fal.ai API.

Port a fal app with `import openfal as fal`; everything an app needs is exported here.
"""

from openfal.sdk import (
    App,
    AppException,
    FieldException,
    OpenfalError,
    RequestCancelled,
    current_request,
    endpoint,
    realtime,
    report_progress,
)

__version__ = "0.1.0"

__all__ = [
    "App",
    "AppException",
    "FieldException",
    "OpenfalError",
    "RequestCancelled",
    "__version__",
    "current_request",
    "endpoint",
    "realtime",
    "report_progress",
]
