"""Many machines: ``openfal gateway`` and ``openfal worker`` processes sharing one store.

``openfal serve`` runs both halves in one process; these entry points run one half each,
so gateways (behind a load balancer) and workers (one per GPU host) scale independently
on a shared Redis. See the README's "Many machines" section.
"""

from openfal.cluster.apps import app_record, load_models, resolve_ref
from openfal.cluster.gateway import GatewayConfig, run_gateway
from openfal.cluster.worker import WorkerProcessConfig, run_worker

__all__ = [
    "GatewayConfig",
    "WorkerProcessConfig",
    "app_record",
    "load_models",
    "resolve_ref",
    "run_gateway",
    "run_worker",
]
