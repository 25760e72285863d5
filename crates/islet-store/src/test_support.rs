//! For tests of this and other crates: a fresh PostgreSQL database per test
//! (zero2prod's `spawn_app` idea), migrated from `migrations/`, dropped when
//! the test ends.

use crate::{connect, migrate, PgStore};
use sqlx::PgPool;

/// The server the tests use: `ISLET_TEST_DATABASE_URL` or the local one.
pub fn server_url() -> String {
    // Without a database name: a test appends its own.
    std::env::var("ISLET_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let name = format!("islet_test_{}_{}", std::process::id(), rand_suffix());
        let admin =
            connect(&format!("{}/postgres", server_url()), 2).await.expect("connect to PostgreSQL (is it running?)");
        sqlx::query(&format!("CREATE DATABASE {name}")).execute(&admin).await.expect("create test database");
        admin.close().await;
        let url = format!("{}/{name}", server_url());
        let pool = connect(&url, 8).await.expect("connect to the test database");
        migrate(&pool).await.expect("migrations apply");
        TestDb { name, url, pool }
    }

    pub fn store(&self) -> PgStore {
        PgStore::new(self.pool.clone())
    }
}

fn rand_suffix() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    format!("{:x}", h.finish())
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any runtime guarantee: use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                if let Ok(admin) = connect(&format!("{}/postgres", server_url()), 2).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&admin).await;
                }
            });
        })
        .join();
    }
}
