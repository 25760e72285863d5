//! Who signs in: users, browser sessions and sign-ins in flight. Secrets
//! (session tokens, OAuth `state`) are stored only as SHA-256 hashes; the
//! caller hashes them (one place: [`token_hash`]).

use sha2::{Digest, Sha256};
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

/// The stored form of a secret token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Records a user (or refreshes their name and roles) at sign-in.
pub async fn upsert_user(
    conn: &mut PgConnection,
    key: &str,
    name: Option<&str>,
    roles: &[String],
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO app_user (key, name, roles, first_seen, last_seen) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (key) DO UPDATE SET name = excluded.name, roles = excluded.roles, last_seen = excluded.last_seen",
    )
    .bind(key)
    .bind(name)
    .bind(roles)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A live session as the request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub user_key: String,
    pub user_name: Option<String>,
    pub roles: Vec<String>,
    pub csrf: Vec<u8>,
    pub last_seen: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

pub async fn create_session(
    conn: &mut PgConnection,
    id_hash: &[u8; 32],
    user_key: &str,
    roles: &[String],
    csrf: &[u8],
    now: OffsetDateTime,
    expires_at: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO web_session (id_hash, user_key, roles, csrf, created_at, last_seen, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $5, $6)",
    )
    .bind(&id_hash[..])
    .bind(user_key)
    .bind(roles)
    .bind(csrf)
    .bind(now)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The session, if it exists and has not passed its absolute or idle limit at `now`.
pub async fn live_session(
    conn: &mut PgConnection,
    id_hash: &[u8; 32],
    now: OffsetDateTime,
    idle: time::Duration,
) -> Result<Option<SessionRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT s.user_key, u.name, s.roles, s.csrf, s.last_seen, s.expires_at FROM web_session s \
         JOIN app_user u ON u.key = s.user_key \
         WHERE s.id_hash = $1 AND s.expires_at > $2 AND s.last_seen > $3",
    )
    .bind(&id_hash[..])
    .bind(now)
    .bind(now - idle)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            user_key: r.try_get("user_key")?,
            user_name: r.try_get("name")?,
            roles: r.try_get("roles")?,
            csrf: r.try_get("csrf")?,
            last_seen: r.try_get("last_seen")?,
            expires_at: r.try_get("expires_at")?,
        })
    })
    .transpose()
}

/// Moves the idle limit on (callers skip it when `last_seen` is recent:
/// one write a minute per session, not one per request).
pub async fn touch_session(
    conn: &mut PgConnection,
    id_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE web_session SET last_seen = $2 WHERE id_hash = $1")
        .bind(&id_hash[..])
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn delete_session(conn: &mut PgConnection, id_hash: &[u8; 32]) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM web_session WHERE id_hash = $1").bind(&id_hash[..]).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}

/// Removes expired sessions and abandoned sign-ins; returns how many.
pub async fn sweep(conn: &mut PgConnection, now: OffsetDateTime, idle: time::Duration) -> Result<u64, sqlx::Error> {
    let sessions = sqlx::query("DELETE FROM web_session WHERE expires_at <= $1 OR last_seen <= $2")
        .bind(now)
        .bind(now - idle)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let pending = sqlx::query("DELETE FROM auth_pending WHERE created_at <= $1")
        .bind(now - PENDING_LIFETIME)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(sessions + pending)
}

/// How long a sign-in may spend at the identity provider.
pub const PENDING_LIFETIME: time::Duration = time::Duration::minutes(10);

/// A sign-in waiting for the provider's callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub pkce_verifier: String,
    pub nonce: String,
    pub return_to: String,
}

pub async fn insert_pending(
    conn: &mut PgConnection,
    state_hash: &[u8; 32],
    pending: &PendingLogin,
    now: OffsetDateTime,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO auth_pending (state_hash, pkce_verifier, nonce, return_to, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&state_hash[..])
    .bind(&pending.pkce_verifier)
    .bind(&pending.nonce)
    .bind(&pending.return_to)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes (and removes) the pending sign-in of a `state`, if it is recent:
/// each `state` is good for one callback.
pub async fn take_pending(
    conn: &mut PgConnection,
    state_hash: &[u8; 32],
    now: OffsetDateTime,
) -> Result<Option<PendingLogin>, sqlx::Error> {
    let row = sqlx::query(
        "DELETE FROM auth_pending WHERE state_hash = $1 RETURNING pkce_verifier, nonce, return_to, created_at",
    )
    .bind(&state_hash[..])
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let created: OffsetDateTime = r.try_get("created_at")?;
    if created <= now - PENDING_LIFETIME {
        return Ok(None);
    }
    Ok(Some(PendingLogin {
        pkce_verifier: r.try_get("pkce_verifier")?,
        nonce: r.try_get("nonce")?,
        return_to: r.try_get("return_to")?,
    }))
}
