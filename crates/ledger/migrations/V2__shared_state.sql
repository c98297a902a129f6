-- State several gateway instances share through one PostgreSQL database (issue 12 §2); see
-- crates/ledger/src/shared. Plain SQL valid on SQLite and PostgreSQL; IF NOT EXISTS because the
-- shared-state module also applies it when it connects, before or after refinery's runner.

-- Models registered through the admin API (/model/new), one row per deployment.
-- definition: the ModelDefinition as JSON with every literal secret taken out;
-- secrets: those values, a JSON object encrypted with AES-256-GCM under a key derived from the
-- gateway's master key, base64(nonce || ciphertext || tag), NULL when there are none.
-- registered_at: Unix milliseconds.
CREATE TABLE IF NOT EXISTS registered_models (
    deployment_id TEXT NOT NULL PRIMARY KEY,
    model_name TEXT NOT NULL,
    definition TEXT NOT NULL,
    secrets TEXT,
    registered_at BIGINT NOT NULL,
    registered_by TEXT NOT NULL
);

-- Requests started and tokens used per deployment, wall-clock minute (Unix seconds / 60) and
-- instance, added to by each instance every ~250 ms; the rpm/tpm limits read the sum.
CREATE TABLE IF NOT EXISTS router_usage (
    deployment_id TEXT NOT NULL,
    minute BIGINT NOT NULL,
    instance TEXT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (deployment_id, minute, instance)
);

-- The latest cooldown of each deployment: out of rotation on every instance until until_ms
-- (Unix milliseconds).
CREATE TABLE IF NOT EXISTS router_cooldowns (
    deployment_id TEXT NOT NULL PRIMARY KEY,
    until_ms BIGINT NOT NULL
);
