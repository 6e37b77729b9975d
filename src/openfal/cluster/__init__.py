"""Many machines: ``openfal gateway`` and ``openfal worker`` processes sharing one store.

``openfal serve`` runs both halves in one process; these entry points run one half each,
so gateways (behind a load balancer) and workers (one per GPU host) scale independently
on a shared Redis. See the README's "Many machines" section.

- :mod:`openfal.cluster.gateway`: ``run_gateway(ServeConfig)``
- :mod:`openfal.cluster.worker`: ``run_worker(WorkerProcessConfig)``
- :mod:`openfal.cluster.apps`: app code on this host (registrations, input models)
"""
