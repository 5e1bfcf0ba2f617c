"""``/metrics``: the server's state in the Prometheus text format (prometheus_client).

Read from the store and the queue at each scrape (a custom collector on a registry of this
app, not the process-global one, so two apps in one process do not mix)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from trainchain.server.queue import RunQueue
from trainchain.states import RunStatus
from trainchain.store import Store


class ServerCollector(Collector):
    def __init__(self, store: Store, queue: RunQueue) -> None:
        self.store, self.queue = store, queue

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        counts = self.store.run_counts_by_status()
        runs = GaugeMetricFamily(
            "trainchain_runs", "Runs in the database by status.", labels=["status"]
        )
        for status in RunStatus:  # every status, 0 included, so a rate has a series to start
            runs.add_metric([status.value], counts.get(status.value, 0))
        yield runs
        yield GaugeMetricFamily(
            "trainchain_queue_length", "Queued runs waiting for a worker.", self.queue.queued()
        )
        yield GaugeMetricFamily(
            "trainchain_active_runs", "Runs this server is executing now.", self.queue.active
        )
        deliveries = CounterMetricFamily(
            "trainchain_webhook_deliveries", "Webhook deliveries by result.", labels=["result"]
        )
        for result, n in sorted(self.store.delivery_counts_by_result().items()):
            deliveries.add_metric([result], n)
        yield deliveries


def metrics_registry(store: Store, queue: RunQueue) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServerCollector(store, queue))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
