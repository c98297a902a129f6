//! Test support (feature `test-support`, never in the product build): a fresh PostgreSQL
//! database per test on the server `AGENT_SHIM_TEST_DATABASE_URL` names (`bash .ci/run` starts
//! one and sets it), dropped — with its connections — when the value is, even when the test
//! failed. Every call runs on a thread of its own with its own runtime, so it works the same from
//! a synchronous test, an async one, and `Drop`.

// Test support may panic: a test that cannot get its database has nothing to check.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tokio_postgres::NoTls;

/// The variable naming the test server (a role that may `CREATE DATABASE`).
pub const SERVER_VAR: &str = "AGENT_SHIM_TEST_DATABASE_URL";

/// A fresh database on the test server.
#[derive(Debug)]
pub struct TestDb {
    server: String,
    /// Its name (`<prefix>_<random>`).
    pub name: String,
    /// Its URL (the server's, with this database).
    pub url: String,
}

/// The test server's URL; fails the test, naming the variable and `bash .ci/run`, without it.
pub fn server_url() -> String {
    std::env::var(SERVER_VAR).unwrap_or_else(|_| {
        panic!(
            "{SERVER_VAR} is not set: it must name a PostgreSQL server whose role may CREATE \
             DATABASE (postgres://USER:PASSWORD@HOST:PORT/postgres); `bash .ci/run` starts one \
             and sets it"
        )
    })
}

/// `url` with its database replaced by `name` (a query string is kept).
pub fn with_database(url: &str, name: &str) -> String {
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

/// Runs `sql` on the database at `url`, from a thread of its own.
pub fn execute(url: &str, sql: &str) {
    let (url, owned) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async {
                let (c, conn) = tokio_postgres::connect(&url, NoTls)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {SERVER_VAR}: {e}"));
                let task = tokio::spawn(conn);
                c.batch_execute(&owned)
                    .await
                    .unwrap_or_else(|e| panic!("{owned}: {e}"));
                drop(c);
                let _ = task.await;
            })
    })
    .join()
    .unwrap_or_else(|_| panic!("{sql} failed"));
}

impl TestDb {
    /// Creates `<prefix>_<random>` on the test server.
    pub fn create(prefix: &str) -> TestDb {
        let server = server_url();
        let name = format!("{prefix}_{:016x}", rand::random::<u64>());
        execute(&server, &format!("CREATE DATABASE {name}"));
        TestDb {
            url: with_database(&server, &name),
            server,
            name,
        }
    }

    /// Runs `sql` as the server's role on its own database (e.g. `pg_terminate_backend`).
    pub fn server_sql(&self, sql: &str) {
        execute(&self.server, sql);
    }

    /// Cuts every connection to this database, as a restart of the server would.
    pub fn cut_connections(&self) {
        self.server_sql(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = '{}' AND pid <> pg_backend_pid()",
            self.name
        ));
    }

    /// A client of this database, its connection driven on the caller's runtime.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (c, conn) = tokio_postgres::connect(&self.url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        execute(&self.server, &sql);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_replaces_the_servers_and_the_query_stays() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "t1"),
            "postgres://u:p@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "t1"),
            "postgres://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
    }
}
