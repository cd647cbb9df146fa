-- The files uploaded for an execution's file inputs, as they were stored beside it. "Run again"
-- reuses only the files recorded here (never a path taken from the inputs' values), and checks
-- each against its size and hash before reusing it.
CREATE TABLE execution_uploads (
    execution_id bigint NOT NULL REFERENCES executions (id),
    field        text NOT NULL,
    -- The stored name: a plain file name (no folder, not starting with a dot) inside the
    -- execution's own inputs folder.
    file_name    text NOT NULL CHECK (file_name ~ '^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$'),
    size         bigint NOT NULL CHECK (size >= 0),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    PRIMARY KEY (execution_id, field),
    UNIQUE (execution_id, file_name)
);
