-- Platform governance lives in `public`. No customer business data here.

-- One row per tenant; `id` is the NNNN of its schema `tenant_NNNN`.
CREATE TABLE tenants (
    id          bigint PRIMARY KEY CHECK (id >= 1000),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 2 AND 80),
    schema_name text NOT NULL UNIQUE CHECK (schema_name ~ '^tenant_[0-9]{4,}$'),
    edition     text NOT NULL CHECK (edition IN ('shared_saas', 'free')),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (schema_name = 'tenant_' || id::text)
);
CREATE UNIQUE INDEX tenants_name_unique ON tenants (lower(name));
-- Shared-SaaS tenants are numbered from 1003 up; lower numbers are reserved (1002: free edition).
CREATE SEQUENCE tenant_number_seq START WITH 1003 MINVALUE 1003;

-- The Host decides the surface and the tenant; nothing the client sends overrides it.
CREATE TABLE host_bindings (
    host       text PRIMARY KEY CHECK (host = lower(host) AND length(host) <= 253),
    kind       text NOT NULL CHECK (kind IN ('public_console', 'tenant_front', 'free_console', 'experience')),
    tenant_id  bigint REFERENCES tenants (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind IN ('tenant_front', 'free_console')) = (tenant_id IS NOT NULL))
);
CREATE INDEX host_bindings_tenant ON host_bindings (tenant_id);

CREATE TABLE platform_users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       text NOT NULL,
    password_hash  text NOT NULL,
    -- The only thing that makes a super-admin: an explicit marker.
    is_super_admin boolean NOT NULL DEFAULT false,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX platform_users_username_unique ON platform_users (lower(username));

CREATE TABLE platform_sessions (
    token_hash text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES platform_users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX platform_sessions_user ON platform_sessions (user_id);

CREATE TABLE platform_login_log (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    username   text NOT NULL,
    user_id    bigint,
    success    boolean NOT NULL,
    reason     text NOT NULL,
    ip         text,
    user_agent text
);
CREATE INDEX platform_login_log_recent ON platform_login_log (lower(username), at DESC);
CREATE INDEX platform_login_log_ip ON platform_login_log (ip, at DESC);

CREATE TABLE platform_audit (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
    result      text NOT NULL,
    ip          text,
    user_agent  text
);
CREATE INDEX platform_audit_at ON platform_audit (at DESC);

-- A tenant admin listed here gets a minimal cross-tenant entry: links to these tenants, nothing more.
CREATE TABLE cross_tenant_whitelist (
    home_tenant_id   bigint NOT NULL REFERENCES tenants (id),
    username         text NOT NULL CHECK (username = lower(username)),
    target_tenant_id bigint NOT NULL REFERENCES tenants (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (home_tenant_id, username, target_tenant_id)
);
