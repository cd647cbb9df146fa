-- Storage governance (issue 11, section 2): what a super-admin set for one tenant instead of the
-- server's defaults, and the counters of rate limits, shared by every server process of the
-- database (each counter is bumped with one atomic upsert).

-- A NULL column takes the server's default (EXECGOV_TENANT_QUOTA_MIB, EXECGOV_USER_QUOTA_MIB,
-- EXECGOV_RETENTION_DAYS).
CREATE TABLE tenant_storage_policies (
    tenant_id          bigint PRIMARY KEY REFERENCES tenants (id),
    tenant_quota_bytes bigint CHECK (tenant_quota_bytes >= 0),
    user_quota_bytes   bigint CHECK (user_quota_bytes >= 0),
    retention_days     integer CHECK (retention_days BETWEEN 1 AND 36500),
    updated_by         text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- One row per limited thing (e.g. 'signup:address:192.0.2.7', 'signup:all') and fixed window.
-- The scheduled cleanup deletes windows long past.
CREATE TABLE rate_limit_counters (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL CHECK (count >= 1),
    PRIMARY KEY (key, window_start)
);
