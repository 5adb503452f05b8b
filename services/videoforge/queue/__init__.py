"""The job queue: one port (``port.JobQueue``), a PostgreSQL adapter (the embedded default) and an SQS
adapter with a transactional outbox. Import an adapter's module to use it; this package imports no
driver."""

from videoforge.queue.port import LEASES_EXHAUSTED, ClaimedJob, DeadLetter, JobQueue, RetryPolicy

__all__ = ["LEASES_EXHAUSTED", "ClaimedJob", "DeadLetter", "JobQueue", "RetryPolicy"]
