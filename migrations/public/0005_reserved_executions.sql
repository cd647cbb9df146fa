-- A busy worker reserves its next execution while it runs one ('reserved': held under its worker
-- id and lease like a running one, not started yet), so that it starts the moment the current
-- run ends. The execution itself stays 'queued' in its tenant until then.
ALTER TABLE execution_queue DROP CONSTRAINT execution_queue_state_check;
ALTER TABLE execution_queue ADD CONSTRAINT execution_queue_state_check
    CHECK (state IN ('queued', 'reserved', 'running'));
ALTER TABLE execution_queue DROP CONSTRAINT execution_queue_check;
ALTER TABLE execution_queue ADD CONSTRAINT execution_queue_held_check
    CHECK ((state <> 'queued') = (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL));
