"""The public surface of openfal.client is exactly its ``__all__``, and covers fal_client's."""

from __future__ import annotations

import fal_client

import openfal.client

# fal_client names that only make sense inside fal's cloud, or describe fal_client itself
NOT_HERE = {"set_get_current_app", "__version__", "version_tuple"}


def test_exported_names_are_exactly_all():
    public = {n for n in vars(openfal.client) if not n.startswith("_")}
    modules = {"annotations"}
    assert public - modules == set(openfal.client.__all__)


def test_covers_the_official_clients_names():
    assert set(fal_client.__all__) - set(openfal.client.__all__) == NOT_HERE
    for name in ("upload", "upload_file", "upload_image", "get_handle", "ws_connect"):
        assert callable(getattr(openfal.client, name))
        assert callable(getattr(openfal.client, name + "_async"))


def test_status_and_error_shapes_match_fal_client():
    assert openfal.client.Queued(position=2).position == 2
    assert openfal.client.InProgress(logs=None).logs is None
    done = openfal.client.Completed(logs=[], metrics={"inference_time": 1.0})
    assert (done.error, done.error_type) == (None, None)
    assert issubclass(openfal.client.FalClientTimeoutError, TimeoutError)
    assert issubclass(openfal.client.FalClientHTTPError, openfal.client.FalClientError)
