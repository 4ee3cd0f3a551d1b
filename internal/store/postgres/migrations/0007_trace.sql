-- Traces (docs/running.md, Traces): the W3C traceparent of the request
-- span that accepted an event, so that its attempts continue the trace in
-- whichever process makes them; NULL: none.
ALTER TABLE events ADD COLUMN trace_parent text;

-- An environment's own OTLP export of its attempt spans (SPEC §11,
-- docs/settings.md): where to, with which headers (a JSON object of names
-- to values, secrets among them), and which span names.
CREATE TABLE environment_otlp (
    environment_id text COLLATE "C" PRIMARY KEY REFERENCES environments(id) ON DELETE CASCADE,
    endpoint       text NOT NULL,
    headers        text NOT NULL DEFAULT '{}',
    span_names     text NOT NULL DEFAULT 'herald',
    updated_at     timestamptz NOT NULL
);
