//! The PostgreSQL engine (`database_url: postgres://…`), for several gateway instances sharing
//! one ledger. Two connections: the writer's (transactions, behind an async mutex only the
//! writer task takes) and a shared one for reports (tokio-postgres pipelines concurrent
//! queries on it). Either is re-opened on the next call after it broke, so a database that
//! went away and came back needs no restart. Plain TCP only: a URL asking for TLS is refused.

use super::sql::{Backend, Cell, Dialect, Outcome, Query, Row, Then, Val, err};
use super::{StoreError, StoreFuture};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls};

/// How long connecting may take, unless the URL says (`connect_timeout=`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The advisory lock instances take while migrating, so two starting at once do not race.
const MIGRATION_LOCK: i64 = 0x6167_656e_7473_6869; // "agentshi"

/// The PostgreSQL ledger of one database.
pub(crate) struct Postgres {
    config: Config,
    shown: String,
    reader: Mutex<Option<Arc<Client>>>,
    writer: tokio::sync::Mutex<Option<Client>>,
    migrated: tokio::sync::OnceCell<()>,
}

/// Refuses a URL that asks for TLS (`sslmode=require`, `verify-ca`, `verify-full`).
fn refuse_tls(url: &str, shown: &str) -> Result<(), StoreError> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    for pair in query.split('&') {
        if let Some((k, v)) = pair.split_once('=')
            && k == "sslmode"
            && matches!(v, "require" | "verify-ca" | "verify-full")
        {
            return Err(err(
                shown,
                format!(
                    "database_url asks for TLS (sslmode={v}), and TLS to PostgreSQL is not \
                     supported yet; connect without it (remove sslmode or set \
                     sslmode=disable), e.g. over a private network or a local tunnel"
                ),
            ));
        }
    }
    Ok(())
}

/// The connection settings for `url`, as every PostgreSQL connection of the ledger (store and
/// shared state) makes them: unless the URL says otherwise, connecting gives up after
/// [`CONNECT_TIMEOUT`], keepalives notice a host that is gone without closing the connection in
/// seconds, and the server sees `application_name=agent-shim`.
pub(crate) fn pg_config(url: &str) -> Result<Config, tokio_postgres::Error> {
    let mut config: Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("agent-shim");
    }
    config
        .keepalives_idle(Duration::from_secs(10))
        .keepalives_interval(Duration::from_secs(5))
        .keepalives_retries(3);
    Ok(config)
}

impl Postgres {
    /// The store for `url`, not connected yet (the first call connects and migrates).
    pub(crate) fn new(url: &str, shown: &str) -> Result<Postgres, StoreError> {
        refuse_tls(url, shown)?;
        let config = pg_config(url).map_err(|e| {
            err(
                shown,
                format!(
                    "database_url is not a PostgreSQL URL ({e}); expected \
                     postgres://USER:PASSWORD@HOST:PORT/DATABASE"
                ),
            )
        })?;
        Ok(Postgres {
            config,
            shown: shown.to_owned(),
            reader: Mutex::new(None),
            writer: tokio::sync::Mutex::new(None),
            migrated: tokio::sync::OnceCell::new(),
        })
    }

    /// A new connection; its I/O task runs on the calling runtime.
    async fn connect_raw(&self) -> Result<Client, StoreError> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(|e| {
            err(
                &self.shown,
                format!(
                    "cannot connect: {e} (check that PostgreSQL runs there and that \
                     database_url's host, port, user, password and database are right)"
                ),
            )
        })?;
        let shown = self.shown.clone();
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("usage ledger {shown}: connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// A connection to a migrated database.
    async fn connect(&self) -> Result<Client, StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                let mut c = self.connect_raw().await?;
                let e = |e: tokio_postgres::Error| err(&self.shown, format!("migrations: {e}"));
                c.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
                    .await
                    .map_err(e)?;
                let ran = super::migrate_postgres(&mut c).await;
                let _ = c
                    .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
                    .await;
                ran.map_err(|m| err(&self.shown, m))
            })
            .await?;
        self.connect_raw().await
    }

    /// Connects now (and migrates): [`super::open`] reports an unreachable database at start.
    pub(crate) async fn check(&self) -> Result<(), StoreError> {
        self.reader().await.map(|_| ())
    }

    async fn reader(&self) -> Result<Arc<Client>, StoreError> {
        let current = self
            .reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(c) = current
            && !c.is_closed()
        {
            return Ok(c);
        }
        let c = Arc::new(self.connect().await?);
        *self.reader.lock().unwrap_or_else(|p| p.into_inner()) = Some(c.clone());
        Ok(c)
    }

    fn e(&self, e: tokio_postgres::Error) -> StoreError {
        err(&self.shown, e)
    }
}

fn params(q: &Query) -> Vec<Box<dyn ToSql + Sync + Send>> {
    q.params
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                Val::I(v) => Box::new(*v),
                Val::T(v) => Box::new(v.clone()),
            }
        })
        .collect()
}

fn cells(row: &tokio_postgres::Row) -> Result<Row, tokio_postgres::Error> {
    (0..row.len())
        .map(|i| {
            let t = row.columns().get(i).map(|c| c.type_().clone());
            Ok(match t {
                Some(Type::INT8) => Cell::I(row.try_get::<_, Option<i64>>(i)?),
                Some(Type::INT4) => Cell::I(row.try_get::<_, Option<i32>>(i)?.map(i64::from)),
                Some(Type::INT2) => Cell::I(row.try_get::<_, Option<i16>>(i)?.map(i64::from)),
                _ => Cell::T(row.try_get::<_, Option<String>>(i)?),
            })
        })
        .collect()
}

async fn run(
    c: &impl tokio_postgres::GenericClient,
    q: &Query,
) -> Result<Outcome, tokio_postgres::Error> {
    let boxed = params(q);
    let refs: Vec<&(dyn ToSql + Sync)> = boxed
        .iter()
        .map(|b| b.as_ref() as &(dyn ToSql + Sync))
        .collect();
    if !q.returning {
        let changed = c.execute(q.sql.as_str(), &refs).await?;
        return Ok(Outcome {
            rows: Vec::new(),
            changed,
        });
    }
    let rows = c
        .query(q.sql.as_str(), &refs)
        .await?
        .iter()
        .map(cells)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Outcome {
        changed: rows.len() as u64,
        rows,
    })
}

impl Backend for Postgres {
    fn engine(&self) -> &'static str {
        "postgres"
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn query(&self, q: Query) -> StoreFuture<'_, Vec<Row>> {
        Box::pin(async move {
            let c = self.reader().await?;
            Ok(run(c.as_ref(), &q).await.map_err(|e| self.e(e))?.rows)
        })
    }

    fn transaction(&self, first: Vec<Query>, then: Then) -> StoreFuture<'_, Vec<Outcome>> {
        Box::pin(async move {
            let mut guard = self.writer.lock().await;
            if guard.as_ref().is_none_or(Client::is_closed) {
                *guard = Some(self.connect().await?);
            }
            let Some(client) = guard.as_mut() else {
                return Err(err(&self.shown, "no connection"));
            };
            let result = async {
                let tx = client.transaction().await?;
                let mut outcomes = Vec::with_capacity(first.len());
                for q in &first {
                    outcomes.push(run(&tx, q).await?);
                }
                for q in then(&outcomes) {
                    run(&tx, &q).await?;
                }
                tx.commit().await?;
                Ok::<_, tokio_postgres::Error>(outcomes)
            }
            .await;
            if result.is_err() && client.is_closed() {
                *guard = None;
            }
            result.map_err(|e| self.e(e))
        })
    }
}
