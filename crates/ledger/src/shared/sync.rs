//! The shared state's two background tasks (see the module docs of [`super`]): the writer
//! (registrations, usage, cooldowns out; the others' usage in) and the listener (`LISTEN`, and a
//! full reload after every connect). Each owns its connection and reconnects with backoff.

use super::{CHANNEL, Cipher, Local, MIGRATION, Op, Shared, StoredModel, USAGE_INTERVAL};
use super::{UsageDelta, UsageTotal, restore};
use futures_util::future::poll_fn;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How many minutes of `router_usage` are kept (older rows are deleted by the writer).
const KEEP_MINUTES: i64 = 60;

/// Longest a round of writes may take before the connection is taken for dead (a database
/// host gone without closing the connection) and made again.
const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection that stays up longer than this before failing starts the backoff afresh.
const STABLE: Duration = Duration::from_secs(10);

type Notifications = mpsc::UnboundedReceiver<tokio_postgres::Notification>;

/// Connects, drives the connection in a task (forwarding notifications), and creates the
/// shared tables if needed.
async fn connect(config: &tokio_postgres::Config) -> Result<(Client, Notifications), String> {
    let (client, mut conn) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(m) = poll_fn(|cx| conn.poll_message(cx)).await {
            match m {
                Ok(AsyncMessage::Notification(n)) => {
                    // Nobody listening (the writer's connection): dropped.
                    let _ = tx.send(n);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("shared state: connection ended: {e}");
                    break;
                }
            }
        }
    });
    client
        .batch_execute(MIGRATION)
        .await
        .map_err(|e| format!("cannot create the shared tables: {e}"))?;
    Ok((client, rx))
}

/// A connection with the shared tables created (for [`Shared::connect`]).
pub(super) async fn open(config: &tokio_postgres::Config) -> Result<Client, String> {
    connect(config).await.map(|(c, _)| c)
}

/// One row of `registered_models` with its secrets decrypted; `None` (with a warning) when they
/// cannot be.
fn row_model(
    id: String,
    model_name: String,
    definition: &str,
    secrets: Option<String>,
    cipher: Option<&Cipher>,
) -> Option<StoredModel> {
    let Ok(definition) = serde_json::from_str::<Value>(definition) else {
        tracing::warn!(model = %model_name, deployment = %id, "shared state: registered_models holds a definition that is not JSON; skipped");
        return None;
    };
    let secrets = match secrets {
        None => Map::new(),
        Some(sealed) => {
            let plain = cipher.and_then(|c| c.open(&id, &sealed));
            match plain.and_then(|p| serde_json::from_slice::<Map<String, Value>>(&p).ok()) {
                Some(m) => m,
                None => {
                    tracing::warn!(
                        model = %model_name, deployment = %id,
                        "shared state: cannot decrypt the keys of a shared model: this instance's \
                         master_key is {} the one that stored it; every instance sharing \
                         database_url needs the same master_key. Not serving it here",
                        if cipher.is_some() { "not" } else { "unset, not" }
                    );
                    return None;
                }
            }
        }
    };
    Some(StoredModel {
        id,
        model_name,
        definition: restore(definition, secrets),
    })
}

/// Every row of `registered_models`, oldest first.
pub(super) async fn load_models(
    client: &Client,
    cipher: Option<&Cipher>,
) -> Result<Vec<StoredModel>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT deployment_id, model_name, definition, secrets FROM registered_models \
             ORDER BY registered_at, deployment_id",
            &[],
        )
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| row_model(r.get(0), r.get(1), r.get::<_, &str>(2), r.get(3), cipher))
        .collect())
}

async fn load_model(
    client: &Client,
    id: &str,
    cipher: Option<&Cipher>,
) -> Result<Option<StoredModel>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT deployment_id, model_name, definition, secrets FROM registered_models \
             WHERE deployment_id = $1",
            &[&id],
        )
        .await?;
    Ok(row.and_then(|r| row_model(r.get(0), r.get(1), r.get::<_, &str>(2), r.get(3), cipher)))
}

/// Says once that the database is gone, and once that it is back.
#[derive(Default)]
struct Health {
    down: bool,
}

impl Health {
    fn failed(&mut self, task: &str, e: &str) {
        if !self.down {
            tracing::warn!(
                "shared state ({task}): the database (database_url) is unreachable: {e}; this \
                 instance serves with its own models, cooldowns and counters until it is back"
            );
            self.down = true;
        }
    }

    fn ok(&mut self, task: &str) {
        if self.down {
            tracing::info!("shared state ({task}): the database is back; resynchronised");
            self.down = false;
        }
    }
}

fn next_backoff(b: Duration) -> Duration {
    (b * 2).min(MAX_BACKOFF)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// What the writer has not stored yet.
#[derive(Default)]
struct Pending {
    ops: VecDeque<Op>,
    usage: HashMap<(String, u64), (u64, u64)>,
    cooldowns: Vec<(String, u64)>,
}

impl Pending {
    fn gather(&mut self, local: &dyn Local) {
        for UsageDelta {
            deployment,
            minute,
            requests,
            tokens,
        } in local.usage_deltas()
        {
            let e = self.usage.entry((deployment, minute)).or_default();
            e.0 += requests;
            e.1 += tokens;
        }
        // Counts of minutes long gone no longer limit anything.
        let now = now_ms() / 60_000;
        self.usage.retain(|(_, m), _| *m + 2 > now);
        self.cooldowns.extend(local.new_cooldowns());
    }
}

/// The writer task (module docs of [`super`]).
pub(super) async fn writer(
    shared: Arc<Shared>,
    local: Arc<dyn Local>,
    mut ops: mpsc::UnboundedReceiver<Op>,
) {
    let mut pending = Pending::default();
    let mut health = Health::default();
    let mut backoff = Duration::from_millis(250);
    let mut last_prune = 0u64;
    // When the current connection came up; `None` before the first attempt.
    let mut up_since: Option<Instant> = None;
    let mut first = true;
    'connect: while local.alive() {
        // Every reconnect waits (a failure right after connecting never spins); a connection that
        // stayed up for STABLE starts the backoff afresh, as the listener's does.
        if !std::mem::take(&mut first) {
            if up_since.take().is_some_and(|t| t.elapsed() > STABLE) {
                backoff = Duration::from_millis(250);
            }
            tokio::time::sleep(backoff).await;
            backoff = next_backoff(backoff);
        }
        let client = match connect(&shared.config).await {
            Ok((c, _)) => c,
            Err(e) => {
                health.failed("writer", &e);
                pending.gather(local.as_ref());
                while let Ok(op) = ops.try_recv() {
                    pending.ops.push_back(op);
                }
                continue;
            }
        };
        up_since = Some(Instant::now());
        let mut tick = tokio::time::interval(USAGE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if !local.alive() {
                return;
            }
            while let Some(op) = pending.ops.front() {
                match tokio::time::timeout(ROUND_TIMEOUT, apply(&client, &shared.instance, op))
                    .await
                {
                    Ok(Ok(())) => {}
                    // The server refused this change itself: retrying cannot help, and keeping
                    // it first in line would stop every later change and the counters.
                    Ok(Err(e)) if e.as_db_error().is_some() => tracing::warn!(
                        "shared state: the database (database_url) refused a registration \
                         change: {e}; it stays on this instance only"
                    ),
                    Ok(Err(e)) => {
                        health.failed("writer", &e.to_string());
                        continue 'connect;
                    }
                    Err(_) => {
                        health.failed("writer", "no answer within 5 s");
                        continue 'connect;
                    }
                }
                pending.ops.pop_front();
            }
            tokio::select! {
                op = ops.recv() => match op {
                    Some(op) => pending.ops.push_back(op),
                    None => return,
                },
                _ = tick.tick() => {
                    pending.gather(local.as_ref());
                    let minute = now_ms() / 60_000;
                    let round = sync_counters(&client, &shared.instance, &mut pending, minute);
                    match tokio::time::timeout(ROUND_TIMEOUT, round).await {
                        Ok(Ok(totals)) => {
                            health.ok("writer");
                            local.others_usage(minute, &totals);
                        }
                        Ok(Err(e)) => {
                            health.failed("writer", &e.to_string());
                            continue 'connect;
                        }
                        Err(_) => {
                            // What this round had not written yet is counted again next time
                            // (at worst counted twice: limits err on the safe side).
                            health.failed("writer", "no answer within 5 s");
                            continue 'connect;
                        }
                    }
                    if minute > last_prune {
                        last_prune = minute;
                        let _ = client
                            .execute("DELETE FROM router_usage WHERE minute < $1", &[&(int(minute) - KEEP_MINUTES)])
                            .await;
                    }
                }
            }
        }
    }
}

/// Stores one queued registration change and announces it.
async fn apply(client: &Client, instance: &str, op: &Op) -> Result<(), tokio_postgres::Error> {
    let note = match op {
        Op::Store {
            id,
            model_name,
            definition,
            secrets,
        } => {
            client
                .execute(
                    "INSERT INTO registered_models \
                     (deployment_id, model_name, definition, secrets, registered_at, registered_by) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (deployment_id) DO UPDATE SET model_name = EXCLUDED.model_name, \
                     definition = EXCLUDED.definition, secrets = EXCLUDED.secrets, \
                     registered_at = EXCLUDED.registered_at, registered_by = EXCLUDED.registered_by",
                    &[id, model_name, definition, secrets, &int(now_ms()), &instance],
                )
                .await?;
            json!({"op": "model", "id": id, "from": instance})
        }
        Op::Delete { id } => {
            client
                .execute(
                    "DELETE FROM registered_models WHERE deployment_id = $1",
                    &[id],
                )
                .await?;
            json!({"op": "delete", "id": id, "from": instance})
        }
        Op::DeleteGroup { model_name } => {
            client
                .execute(
                    "DELETE FROM registered_models WHERE model_name = $1",
                    &[model_name],
                )
                .await?;
            json!({"op": "group", "name": model_name, "from": instance})
        }
    };
    notify(client, &note).await
}

async fn notify(client: &Client, note: &Value) -> Result<(), tokio_postgres::Error> {
    client
        .execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &note.to_string()])
        .await
        .map(|_| ())
}

/// Adds the pending usage, publishes the pending cooldowns, and reads the other instances'
/// usage of `minute`.
async fn sync_counters(
    client: &Client,
    instance: &str,
    pending: &mut Pending,
    minute: u64,
) -> Result<Vec<UsageTotal>, tokio_postgres::Error> {
    // Each entry leaves `pending` once written, so a round cut short keeps the rest.
    let keys: Vec<(String, u64)> = pending.usage.keys().cloned().collect();
    for key in keys {
        let Some(&(requests, tokens)) = pending.usage.get(&key) else {
            continue;
        };
        client
            .execute(
                "INSERT INTO router_usage (deployment_id, minute, instance, requests, tokens) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (deployment_id, minute, instance) DO UPDATE SET \
                 requests = router_usage.requests + EXCLUDED.requests, \
                 tokens = router_usage.tokens + EXCLUDED.tokens",
                &[&key.0, &int(key.1), &instance, &int(requests), &int(tokens)],
            )
            .await?;
        pending.usage.remove(&key);
    }
    while let Some((deployment, until)) = pending.cooldowns.first().cloned() {
        client
            .execute(
                "INSERT INTO router_cooldowns (deployment_id, until_ms) VALUES ($1, $2) \
                 ON CONFLICT (deployment_id) DO UPDATE SET \
                 until_ms = GREATEST(router_cooldowns.until_ms, EXCLUDED.until_ms)",
                &[&deployment, &int(until)],
            )
            .await?;
        notify(
            client,
            &json!({"op": "cool", "id": deployment, "until": until, "from": instance}),
        )
        .await?;
        pending.cooldowns.remove(0);
    }
    let rows = client
        .query(
            "SELECT deployment_id, CAST(SUM(requests) AS BIGINT), CAST(SUM(tokens) AS BIGINT) \
             FROM router_usage WHERE minute = $1 AND instance <> $2 GROUP BY deployment_id",
            &[&int(minute), &instance],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| UsageTotal {
            deployment: r.get(0),
            requests: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
            tokens: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
        })
        .collect())
}

/// The listener task (module docs of [`super`]).
pub(super) async fn listener(shared: Arc<Shared>, local: Arc<dyn Local>) {
    let mut health = Health::default();
    let mut backoff = Duration::from_millis(250);
    while local.alive() {
        let began = std::time::Instant::now();
        match listen(&shared, local.as_ref(), &mut health).await {
            Ok(()) => return,
            Err(e) => health.failed("listener", &e),
        }
        if began.elapsed() > STABLE {
            backoff = Duration::from_millis(250);
        }
        tokio::time::sleep(backoff).await;
        backoff = next_backoff(backoff);
    }
}

/// One connection's life: `LISTEN`, reload everything, then apply notifications until the
/// connection ends (an error) or the gateway is gone (`Ok`).
async fn listen(shared: &Shared, local: &dyn Local, health: &mut Health) -> Result<(), String> {
    let (client, mut notes) = connect(&shared.config).await?;
    let err = |e: tokio_postgres::Error| e.to_string();
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .map_err(err)?;
    let cipher = shared.cipher.as_ref();
    local.models_loaded(load_models(&client, cipher).await.map_err(err)?);
    let rows = client
        .query(
            "SELECT deployment_id, until_ms FROM router_cooldowns WHERE until_ms > $1",
            &[&int(now_ms())],
        )
        .await
        .map_err(err)?;
    for r in rows {
        local.cooled_down(
            r.get::<_, &str>(0),
            u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
        );
    }
    health.ok("listener");
    let mut alive = tokio::time::interval(Duration::from_secs(1));
    loop {
        let note = tokio::select! {
            n = notes.recv() => n,
            _ = alive.tick() => {
                if !local.alive() {
                    return Ok(());
                }
                continue;
            }
        };
        let Some(note) = note else {
            // The connection ended; a quick query tells why.
            let why = client.simple_query("SELECT 1").await.err();
            return Err(why.map_or_else(|| "the connection closed".into(), err));
        };
        let Ok(v) = serde_json::from_str::<Value>(note.payload()) else {
            continue;
        };
        let from_me = v["from"].as_str() == Some(shared.instance.as_str());
        let id = v["id"].as_str().unwrap_or_default();
        match v["op"].as_str() {
            // Own registrations are applied too: a resync may have run before the writer
            // stored them (idempotent).
            Some("model") => {
                if let Some(m) = load_model(&client, id, cipher).await.map_err(err)? {
                    local.model_stored(m);
                }
            }
            Some("delete") if !from_me => local.model_deleted(id),
            Some("group") if !from_me => {
                local.group_deleted(v["name"].as_str().unwrap_or_default())
            }
            Some("cool") if !from_me => local.cooled_down(id, v["until"].as_u64().unwrap_or(0)),
            _ => {}
        }
    }
}
