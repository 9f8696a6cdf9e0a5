-- Listings of jobs show a small summary instead of re-reading every stored payload (a sweep's payload can
-- hold a thousand configurations): what it runs on and how many configurations, kept beside the payload.

ALTER TABLE jobs ADD COLUMN summary TEXT NOT NULL DEFAULT '{}';

UPDATE jobs SET summary = json_object(
    'checkpoint', json_extract(payload, '$.checkpoint'),
    'configs', json_array_length(payload, '$.configs'),
    'tensor', json_extract(payload, '$.tensor'),
    'payload_bytes', length(payload)
);
