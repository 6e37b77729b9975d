"""The platform clock (:mod:`openfal.clock`), under the name the store's modules use."""

from openfal.clock import now

__all__ = ["now"]
