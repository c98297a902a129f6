-- Opt-in body capture (issue 12 §1; `general_settings.store_prompts_in_spend_logs`): the
-- request body the client sent and the response body it received, as text, each capped and
-- marked when truncated; NULL when not captured or cleared by the body retention pass. Read
-- by the one-record detail only, never by the lists and summaries.
ALTER TABLE usage_records ADD COLUMN request_body TEXT;
ALTER TABLE usage_records ADD COLUMN response_body TEXT;
-- The body retention pass finds the old records that still have bodies without scanning every
-- old record (empty while capture is off).
CREATE INDEX usage_records_bodies ON usage_records (time_ms)
    WHERE request_body IS NOT NULL OR response_body IS NOT NULL;
