from tests.e2e.conftest import serve

__all__ = ["serve"]
