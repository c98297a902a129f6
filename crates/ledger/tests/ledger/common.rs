//! A fresh ledger per test, on either engine: SQLite in a temporary state dir, or a new
//! PostgreSQL database `agent_shim_t_<random>` on the server `AGENT_SHIM_TEST_DATABASE_URL`
//! names (made by `.ci/run`), dropped when the test ends.

use ledger::Store;
use ledger::test_db::TestDb;
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
    /// The test's PostgreSQL database, dropped with the value.
    _pg: Option<TestDb>,
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
                _pg: None,
            },
            Engine::Postgres => {
                let pg = TestDb::create("agent_shim_t");
                Db {
                    engine,
                    dir,
                    url: Some(pg.url.clone()),
                    _pg: Some(pg),
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
