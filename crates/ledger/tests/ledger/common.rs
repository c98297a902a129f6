//! A fresh ledger per test, on either engine: SQLite in a temporary state dir, or a new
//! PostgreSQL database `agent_shim_t_<random>` on the server `AGENT_SHIM_TEST_DATABASE_URL`
//! names (made by `.ci/run`), dropped when the test ends.

use ledger::Store;
use std::path::Path;
use std::sync::Arc;

/// The engines every ledger test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A fresh, empty database for one test.
pub struct Db {
    pub engine: Engine,
    pub dir: tempfile::TempDir,
    /// The PostgreSQL URL of the test's database (`None` on SQLite).
    pub url: Option<String>,
    admin_url: Option<String>,
    name: Option<String>,
}

/// The server's URL (`AGENT_SHIM_TEST_DATABASE_URL`); the test fails without it.
pub fn server_url() -> String {
    std::env::var("AGENT_SHIM_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "AGENT_SHIM_TEST_DATABASE_URL is not set: it must name a PostgreSQL server whose \
             role may CREATE DATABASE (postgres://USER:PASSWORD@HOST:PORT/postgres); \
             `bash .ci/run` starts one and sets it"
        )
    })
}

/// `url` with its database replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

pub async fn admin(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to AGENT_SHIM_TEST_DATABASE_URL: {e}"));
    tokio::spawn(conn);
    client
}

impl Db {
    pub async fn new(engine: Engine) -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        match engine {
            Engine::Sqlite => Db {
                engine,
                dir,
                url: None,
                admin_url: None,
                name: None,
            },
            Engine::Postgres => {
                let server = server_url();
                let name = format!("agent_shim_t_{:016x}", rand::random::<u64>());
                admin(&server)
                    .await
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("CREATE DATABASE");
                Db {
                    engine,
                    dir,
                    url: Some(with_database(&server, &name)),
                    admin_url: Some(server),
                    name: Some(name),
                }
            }
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Opens (creating and migrating) the ledger.
    pub async fn open(&self) -> Arc<dyn Store> {
        ledger::store::open(self.url.as_deref(), self.state_dir())
            .await
            .expect("open the ledger")
    }

    /// One integer from a query on the test's database, outside the store.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match self.engine {
            Engine::Sqlite => {
                let conn = rusqlite::Connection::open(ledger::store::sqlite_path(self.state_dir()))
                    .expect("open usage.db");
                conn.query_row(sql, [], |r| r.get(0)).expect(sql)
            }
            Engine::Postgres => {
                let url = self.url.as_deref().unwrap_or_default();
                let row = admin(url).await.query_one(sql, &[]).await.expect(sql);
                row.get(0)
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let (Some(url), Some(name)) = (self.admin_url.clone(), self.name.clone()) else {
            return;
        };
        // Drop may run inside a runtime: drop the database from a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                admin(&url)
                    .await
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .expect("DROP DATABASE");
            });
        })
        .join();
    }
}

/// Runs a test body on SQLite and on PostgreSQL (two `#[tokio::test]`s per body).
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::common::Db::new($crate::common::Engine::Sqlite).await)
                        .await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::common::Db::new($crate::common::Engine::Postgres).await)
                        .await
                }
            }
        )*
    };
}
