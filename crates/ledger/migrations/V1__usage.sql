-- The usage ledger (issue 12 §2): one row per client request, and the daily rollups reports
-- over months read. Valid on both SQLite and PostgreSQL: every integer is BIGINT, `stream` is
-- 0/1, times are Unix milliseconds and durations microseconds, costs picodollars (NULL: unknown).

CREATE TABLE usage_records (
    request_id TEXT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    session_id TEXT,
    directory TEXT,
    profile TEXT,
    agent TEXT,
    client_protocol TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    model_group TEXT,
    deployment TEXT,
    provider TEXT,
    served_model TEXT,
    route TEXT,
    status BIGINT NOT NULL,
    error_class TEXT,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_5m_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    cost_pico_usd BIGINT,
    price_version TEXT,
    latency_us BIGINT NOT NULL,
    ttfb_us BIGINT,
    stream BIGINT NOT NULL,
    dropped TEXT,
    attempts BIGINT NOT NULL,
    attempt_path TEXT,
    response_bytes BIGINT NOT NULL
);

CREATE INDEX usage_records_time ON usage_records (time_ms);
CREATE INDEX usage_records_session ON usage_records (session_id, time_ms);

-- Per UTC day and group; '' is "none" (a NULL would never match in the primary key).
CREATE TABLE usage_daily (
    day_ms BIGINT NOT NULL,
    model_group TEXT NOT NULL,
    provider TEXT NOT NULL,
    profile TEXT NOT NULL,
    directory TEXT NOT NULL,
    agent TEXT NOT NULL,
    client_protocol TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    reasoning_tokens BIGINT NOT NULL,
    cache_read_tokens BIGINT NOT NULL,
    cache_write_5m_tokens BIGINT NOT NULL,
    cache_write_1h_tokens BIGINT NOT NULL,
    cost_pico_usd BIGINT NOT NULL,
    unpriced BIGINT NOT NULL,
    PRIMARY KEY (day_ms, model_group, provider, profile, directory, agent, client_protocol)
);

-- Bookkeeping: `pruned_before_ms`, the time before which raw records may have been deleted.
CREATE TABLE usage_meta (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
