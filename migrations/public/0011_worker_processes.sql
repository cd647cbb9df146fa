-- The worker processes running now, on every machine: each renews its row while it runs, so
-- that the console counts the workers of all of them (a web process has none of its own).
CREATE TABLE public.worker_processes (
    -- Its workers' ids begin with this (`<host>-<pid>-w`).
    prefix  text PRIMARY KEY,
    workers integer NOT NULL CONSTRAINT worker_processes_workers_check CHECK (workers >= 0),
    seen_at timestamptz NOT NULL DEFAULT now()
);
