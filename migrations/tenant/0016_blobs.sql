-- Issue 14: the files a worker needs (skill folders, run uploads, artifacts) live in the
-- database, so that any node can run or serve them; a node's data folder only caches them by
-- content hash. A file is a blob named by the sha256 of its bytes; its bytes are chunks of at
-- most 1 MiB, each named by its own sha256 and kept once however many blobs share it. All in the
-- tenant's schema: one tenant can never reach another's bytes, even knowing their hash.
CREATE TABLE blob_chunks (
    hash text NOT NULL,
    data bytea NOT NULL,
    CONSTRAINT blob_chunks_pkey PRIMARY KEY (hash),
    CONSTRAINT blob_chunks_hash_check CHECK (hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT blob_chunks_size_check CHECK (octet_length(data) BETWEEN 1 AND 1048576)
);
-- Chunks are mostly already compressed (archives, images) or hashed apart anyway: stored as
-- they are, out of line, without spending CPU on compression.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

CREATE TABLE blobs (
    hash       text NOT NULL,
    size       bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT blobs_pkey PRIMARY KEY (hash),
    CONSTRAINT blobs_hash_check CHECK (hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT blobs_size_check CHECK (size >= 0)
);

-- A blob's chunks in order (none for an empty file).
CREATE TABLE blob_parts (
    blob_hash  text NOT NULL,
    seq        integer NOT NULL,
    chunk_hash text NOT NULL,
    CONSTRAINT blob_parts_pkey PRIMARY KEY (blob_hash, seq),
    CONSTRAINT blob_parts_seq_check CHECK (seq >= 0),
    CONSTRAINT blob_parts_blob_fkey FOREIGN KEY (blob_hash) REFERENCES blobs (hash) ON DELETE CASCADE,
    CONSTRAINT blob_parts_chunk_fkey FOREIGN KEY (chunk_hash) REFERENCES blob_chunks (hash)
);
CREATE INDEX blob_parts_chunk ON blob_parts (chunk_hash);

-- The files of a stored skill folder (an asset version's content hash): relative paths.
CREATE TABLE asset_files (
    content_hash text NOT NULL,
    path         text NOT NULL,
    blob_hash    text NOT NULL,
    CONSTRAINT asset_files_pkey PRIMARY KEY (content_hash, path),
    CONSTRAINT asset_files_path_check CHECK (path <> '' AND path !~ '(^/|(^|/)\.\.?(/|$))'),
    CONSTRAINT asset_files_blob_fkey FOREIGN KEY (blob_hash) REFERENCES blobs (hash)
);
CREATE INDEX asset_files_blob ON asset_files (blob_hash);

-- The files of an execution's uploads, by their path inside its inputs folder (`sales.csv`,
-- `photos/a.jpg`): what a worker anywhere lays out before the run.
CREATE TABLE execution_input_files (
    execution_id bigint NOT NULL,
    path         text NOT NULL,
    blob_hash    text NOT NULL,
    CONSTRAINT execution_input_files_pkey PRIMARY KEY (execution_id, path),
    CONSTRAINT execution_input_files_path_check CHECK (path <> '' AND path !~ '(^/|(^|/)\.\.?(/|$))'),
    CONSTRAINT execution_input_files_execution_fkey FOREIGN KEY (execution_id) REFERENCES executions (id),
    CONSTRAINT execution_input_files_blob_fkey FOREIGN KEY (blob_hash) REFERENCES blobs (hash)
);
CREATE INDEX execution_input_files_blob ON execution_input_files (blob_hash);

-- An artifact's bytes. Empty for artifacts recorded before this migration: those stay on the
-- disk of the node that ran them.
ALTER TABLE artifacts ADD COLUMN blob_hash text CONSTRAINT artifacts_blob_fkey REFERENCES blobs (hash);
CREATE INDEX artifacts_blob ON artifacts (blob_hash);
