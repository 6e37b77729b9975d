"""The adversarial suites reuse the end-to-end harness: real ``openfal serve`` processes."""

from tests.e2e.conftest import serve

__all__ = ["serve"]
