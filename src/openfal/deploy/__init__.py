"""App lifecycle: deploy to a running server, revisions, per-app environments, secrets.

- ``source``: pack an app's code (one file, or a folder) and read its static settings.
- ``envs``: per-app virtual environments built with uv, cached by requirements hash.
- ``secrets``: encryption at rest and redaction.
- ``rollout``: the worker side: build, warm up, switch, drain.
- ``routes``: the admin API under ``/rest/`` (gateway side).
- ``client``: a small admin client (``SyncServerlessClient``-like).
"""
