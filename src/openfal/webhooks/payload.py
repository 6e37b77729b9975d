"""Build the JSON body of a webhook delivery, in fal's exact shapes.

- success: ``{"request_id", "gateway_request_id", "status": "OK", "payload": <output>}``
- failure: ``{"request_id", "gateway_request_id", "status": "ERROR",
  "error": "Invalid status code: 422", "payload": <error body>}``
- an output that is not valid JSON: ``"payload": null`` plus ``"payload_error": <why>``.

An empty body gives ``"payload": null`` without ``payload_error``: there was nothing to
serialise, which is not an error.
"""

from __future__ import annotations

import json
from typing import Any

_PAYLOAD_ERROR_PREFIX = "Response payload is not JSON serializable"


def build_payload(request_id: str, status_code: int, body: bytes, error: str | None) -> bytes:
    """The webhook body for a request that finished with ``status_code`` and ``body``.

    The delivery is "OK" when ``status_code`` is 2xx and there is no ``error``; otherwise
    it is "ERROR", with ``error`` or, when that is None, ``"Invalid status code: N"``.
    ``body`` is the response body the request produced (JSON bytes).
    """
    ok = error is None and 200 <= status_code < 300
    document: dict[str, Any] = {
        "request_id": request_id,
        # No separate gateway here: the request id is the gateway's request id too.
        "gateway_request_id": request_id,
        "status": "OK" if ok else "ERROR",
    }
    if not ok:
        document["error"] = error if error is not None else f"Invalid status code: {status_code}"
    payload, payload_error = _parse_payload(body)
    document["payload"] = payload
    if payload_error is not None:
        document["payload_error"] = payload_error
    return _dumps(document)


def _parse_payload(body: bytes) -> tuple[Any, str | None]:
    """``(payload, None)``, or ``(None, why)`` when ``body`` is not strict JSON."""
    if not body.strip():
        return None, None
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, UnicodeError, RecursionError) as exc:
        return None, f"{_PAYLOAD_ERROR_PREFIX}: {exc}"
    return payload, None


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON: receivers would choke.
    raise ValueError(f"{name} is not valid JSON")


def _dumps(document: Any) -> bytes:
    # ASCII-only output: every receiver decodes it, whatever it assumes about encodings.
    return json.dumps(document, allow_nan=False).encode("ascii")
