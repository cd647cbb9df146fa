-- Executions of skills that run on local agents wait for an agent carrying this label; the
-- platform's workers claim only rows without one.
ALTER TABLE execution_queue ADD COLUMN agent_label text;
DROP INDEX execution_queue_waiting;
CREATE INDEX execution_queue_waiting ON execution_queue (queued_at) WHERE state = 'queued' AND agent_label IS NULL;
CREATE INDEX execution_queue_agent_waiting ON execution_queue (tenant_id, agent_label, queued_at)
    WHERE state = 'queued' AND agent_label IS NOT NULL;
