//! Executions: the queue in PostgreSQL, workers, leases and the reaper.
