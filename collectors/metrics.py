"""The collector's own metrics, on an explicit registry (never prometheus-client's global one)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class CollectorMetrics:
    """Self-metrics: probe rate and duration, scheduling lag, write path and spool."""

    registry: CollectorRegistry
    probes: Counter
    failures: Counter
    probe_duration: Histogram
    schedule_lag: Histogram
    flush_duration: Histogram
    rows_written: Counter
    spool_bytes: Gauge
    spool_pending: Gauge
    spool_segments: Gauge
    spool_dropped_bytes: Counter
    spool_batches: Counter
    spool_replayed: Counter
    spool_problems: Counter
    rejected_batches: Counter
    targets: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> CollectorMetrics:
        """Register every metric on `registry` (and the process's CPU, memory, descriptors)."""
        r = registry
        ProcessCollector(registry=r)
        return cls(
            registry=r,
            probes=Counter("ioc_collector_probes", "Collections run, by kind.", ["kind"],
                           registry=r),
            failures=Counter("ioc_collector_failures", "Failed collections by kind and reason.",
                             ["kind", "reason"], registry=r),
            probe_duration=Histogram("ioc_collector_probe_duration_seconds",
                                     "Duration of one collection.", ["kind"], registry=r),
            schedule_lag=Histogram("ioc_collector_schedule_lag_seconds",
                                   "How late collections start against their schedule.",
                                   buckets=_LAG_BUCKETS, registry=r),
            flush_duration=Histogram("ioc_collector_flush_duration_seconds",
                                     "Duration of writing one batch to the database.",
                                     registry=r),
            rows_written=Counter("ioc_collector_rows_written",
                                 "Rows (results and samples) sent to the database.", registry=r),
            spool_bytes=Gauge("ioc_collector_spool_bytes", "Bytes waiting in the on-disk spool.",
                              registry=r),
            spool_pending=Gauge("ioc_collector_spool_pending_batches",
                                "Batches in the on-disk spool (replayed ones until their file "
                                "is removed).", registry=r),
            spool_segments=Gauge("ioc_collector_spool_segments", "Files in the on-disk spool.",
                                 registry=r),
            spool_dropped_bytes=Counter("ioc_collector_spool_dropped_bytes",
                                        "Bytes of spooled batches dropped because the spool "
                                        "was full (samples lost).", registry=r),
            spool_batches=Counter("ioc_collector_spool_batches",
                                  "Batches written to the spool (database unreachable).",
                                  registry=r),
            spool_replayed=Counter("ioc_collector_spool_replayed_batches",
                                   "Spooled batches stored after the database came back.",
                                   registry=r),
            spool_problems=Counter("ioc_collector_spool_problems",
                                   "Truncated or corrupt spool records skipped.", registry=r),
            rejected_batches=Counter("ioc_collector_rejected_batches",
                                     "Batches the database refused as data (kept on disk).",
                                     registry=r),
            targets=Gauge("ioc_collector_targets", "Targets scheduled by this collector.",
                          registry=r),
        )
