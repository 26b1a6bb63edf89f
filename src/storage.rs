//! Redis storage: chat sessions, user profiles and the outbox of sent requests.
//!
//! Keys (all under the configured prefix):
//! - `session:<chat id>`: the chat's [`StoredSession`] as JSON, expiring after the draft TTL;
//! - `profile:<user id>`: the user's [`Profile`] as JSON (language, identification);
//! - `blocked:<chat id>`: the user blocked the bot; no messages until they write again;
//! - `outbox:*`, `delivered:*`: see [`crate::outbox`].
//!
//! The "Send" step writes the session and the outbox entry in one MULTI/EXEC, so a
//! request is either still a draft or safely queued, never lost in between.

use std::time::Duration;

use anyhow::Context;
use intake_core::dialogue::{Profile, StoredSession};
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use crate::outbox::{Entry, Outbox};

/// A session as read from storage.
#[derive(Debug)]
pub enum LoadedSession {
    /// Nothing stored (new chat or expired draft).
    None,
    /// A decoded session.
    Found(StoredSession),
    /// Something stored that cannot be decoded (old format or corrupt).
    Undecodable,
}

/// Redis-backed store.
#[derive(Clone)]
pub struct Store {
    conn: ConnectionManager,
    prefix: String,
    draft_ttl: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl Store {
    /// Connects and checks the server answers.
    ///
    /// # Errors
    ///
    /// The URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str, prefix: &str, draft_ttl: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).context("Invalid REDIS_URL")?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_secs(2));
        let mut conn = client
            .get_connection_manager_with_config(config)
            .await
            .context("Failed to connect to Redis")?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .context("Redis did not answer PING")?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            draft_ttl,
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Reads a chat's session.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn load_session(&self, chat_id: i64) -> redis::RedisResult<LoadedSession> {
        let raw: Option<String> = self
            .conn
            .clone()
            .get(self.key(&format!("session:{chat_id}")))
            .await?;
        Ok(match raw {
            None => LoadedSession::None,
            Some(text) => match serde_json::from_str::<StoredSession>(&text) {
                Ok(s) if s.v == StoredSession::VERSION => LoadedSession::Found(s),
                _ => LoadedSession::Undecodable,
            },
        })
    }

    /// Reads a user's profile (default when none).
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn load_profile(&self, user_id: u64) -> redis::RedisResult<Profile> {
        let raw: Option<String> = self
            .conn
            .clone()
            .get(self.key(&format!("profile:{user_id}")))
            .await?;
        Ok(raw
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// Writes a chat's session, the profile when given, and the outbox entry when given,
    /// all in one transaction.
    ///
    /// # Errors
    ///
    /// Redis is unreachable; nothing is written then.
    pub async fn commit(
        &self,
        chat_id: i64,
        session: &StoredSession,
        profile: Option<(u64, &Profile)>,
        outgoing: Option<&Entry>,
    ) -> anyhow::Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        pipe.set_ex(
            self.key(&format!("session:{chat_id}")),
            serde_json::to_string(session)?,
            self.draft_ttl.as_secs().max(1),
        )
        .ignore();
        if let Some((user_id, profile)) = profile {
            pipe.set(
                self.key(&format!("profile:{user_id}")),
                serde_json::to_string(profile)?,
            )
            .ignore();
        }
        if let Some(entry) = outgoing {
            self.outbox().enqueue_in(&mut pipe, entry)?;
        }
        let () = pipe.query_async(&mut self.conn.clone()).await?;
        Ok(())
    }

    /// Checks the server answers.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let _: String = redis::cmd("PING")
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    /// The outbox on the same connection and prefix.
    pub fn outbox(&self) -> Outbox {
        Outbox::new(self.conn.clone(), &self.prefix)
    }

    /// Marks a chat whose user blocked the bot (cleared when they write again).
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn set_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        let () = self
            .conn
            .clone()
            .set(self.key(&format!("blocked:{chat_id}")), 1)
            .await?;
        Ok(())
    }

    /// Clears the blocked mark of a chat.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn clear_blocked(&self, chat_id: i64) -> anyhow::Result<()> {
        let () = self
            .conn
            .clone()
            .del(self.key(&format!("blocked:{chat_id}")))
            .await?;
        Ok(())
    }

    /// Whether the chat's user blocked the bot.
    ///
    /// # Errors
    ///
    /// Redis is unreachable.
    pub async fn is_blocked(&self, chat_id: i64) -> anyhow::Result<bool> {
        Ok(self
            .conn
            .clone()
            .exists(self.key(&format!("blocked:{chat_id}")))
            .await?)
    }
}
