//! The message store of the echo system, on PostgreSQL.
//!
//! Tenants have users; users talk in channels; messages get reactions,
//! attachments, mentions, threads, pins and tags, and are delivered to
//! every other member through a delivery queue and to webhooks. The echo
//! server's request/response traffic is recorded per session. The schema
//! is in `migrations/` (25 tables), the rows every database starts with in
//! `seed.sql`: the `echo-system` tenant (id 1), its `echo-bot` user (id 1)
//! and the `lobby` channel (id 1).

use std::fmt;

use postgres::Client;

/// What can go wrong.
#[derive(Debug)]
pub enum StoreError {
    /// The database refused (constraint, connection…).
    Db(postgres::Error),
    /// A referenced row does not exist.
    NotFound(&'static str, i64),
    /// The operation is not allowed (e.g. posting without membership).
    Denied(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Db(e) => write!(f, "database error: {e}"),
            StoreError::NotFound(what, id) => write!(f, "{what} {id} does not exist"),
            StoreError::Denied(why) => write!(f, "denied: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Db(e)
    }
}

impl StoreError {
    /// The SQLSTATE of a database error (`23505` for a unique violation).
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            StoreError::Db(e) => e.code().map(|c| c.code()),
            _ => None,
        }
    }
}

/// Result with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A message as shown in a channel's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its id.
    pub id: i64,
    /// The channel.
    pub channel_id: i64,
    /// The author, unless deleted.
    pub author_id: Option<i64>,
    /// The text.
    pub body: String,
    /// The message it answers.
    pub reply_to: Option<i64>,
    /// Whether it was edited.
    pub edited: bool,
}

/// A user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Its id.
    pub id: i64,
    /// Its tenant.
    pub tenant_id: i64,
    /// `@handle`, unique per tenant.
    pub handle: String,
    /// Unique e-mail address.
    pub email: String,
    /// Shown name.
    pub display_name: String,
}

enum Conn<'c> {
    Owned(Box<Client>),
    Borrowed(&'c mut Client),
}

/// The store, on one connection (owned, or borrowed from a pool).
pub struct MessageStore<'c> {
    conn: Conn<'c>,
}

impl MessageStore<'static> {
    /// Connects to `url`.
    pub fn connect(url: &str) -> Result<Self> {
        Ok(MessageStore {
            conn: Conn::Owned(Box::new(Client::connect(url, postgres::NoTls)?)),
        })
    }
}

impl<'c> MessageStore<'c> {
    /// Uses a connection someone else owns.
    pub fn new(client: &'c mut Client) -> Self {
        MessageStore {
            conn: Conn::Borrowed(client),
        }
    }

    fn db(&mut self) -> &mut Client {
        match &mut self.conn {
            Conn::Owned(c) => c,
            Conn::Borrowed(c) => c,
        }
    }

    fn one_i64(
        &mut self,
        sql: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<i64> {
        Ok(self.db().query_one(sql, params)?.get(0))
    }

    // --- tenants and users -------------------------------------------

    /// Creates a tenant; slugs are unique lower-case words.
    pub fn create_tenant(&mut self, slug: &str, name: &str) -> Result<i64> {
        self.one_i64(
            "INSERT INTO tenants (slug, name) VALUES ($1, $2) RETURNING id",
            &[&slug, &name],
        )
    }

    /// The id of the tenant `slug`.
    pub fn tenant_by_slug(&mut self, slug: &str) -> Result<Option<i64>> {
        Ok(self
            .db()
            .query_opt("SELECT id FROM tenants WHERE slug = $1", &[&slug])?
            .map(|r| r.get(0)))
    }

    /// How many tenants exist.
    pub fn count_tenants(&mut self) -> Result<i64> {
        self.one_i64("SELECT count(*) FROM tenants", &[])
    }

    /// Deletes a tenant and everything in it.
    pub fn delete_tenant(&mut self, tenant: i64) -> Result<()> {
        match self
            .db()
            .execute("DELETE FROM tenants WHERE id = $1", &[&tenant])?
        {
            0 => Err(StoreError::NotFound("tenant", tenant)),
            _ => Ok(()),
        }
    }

    /// Creates a user with an empty profile.
    pub fn create_user(
        &mut self,
        tenant: i64,
        handle: &str,
        email: &str,
        display: &str,
    ) -> Result<i64> {
        let id = self.one_i64(
            "INSERT INTO users (tenant_id, handle, email, display_name) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&tenant, &handle, &email, &display],
        )?;
        self.db()
            .execute("INSERT INTO user_profiles (user_id) VALUES ($1)", &[&id])?;
        Ok(id)
    }

    /// The user `@handle` of a tenant.
    pub fn user_by_handle(&mut self, tenant: i64, handle: &str) -> Result<Option<User>> {
        Ok(self
            .db()
            .query_opt(
                "SELECT id, tenant_id, handle, email, display_name FROM users WHERE tenant_id = $1 AND handle = $2",
                &[&tenant, &handle],
            )?
            .map(|r| User {
                id: r.get(0),
                tenant_id: r.get(1),
                handle: r.get(2),
                email: r.get(3),
                display_name: r.get(4),
            }))
    }

    /// How many users a tenant has.
    pub fn count_users(&mut self, tenant: i64) -> Result<i64> {
        self.one_i64(
            "SELECT count(*) FROM users WHERE tenant_id = $1",
            &[&tenant],
        )
    }

    /// Renames a user.
    pub fn rename_user(&mut self, user: i64, display: &str) -> Result<()> {
        match self.db().execute(
            "UPDATE users SET display_name = $2 WHERE id = $1",
            &[&user, &display],
        )? {
            0 => Err(StoreError::NotFound("user", user)),
            _ => Ok(()),
        }
    }

    /// Sets bio and locale.
    pub fn set_profile(&mut self, user: i64, bio: &str, locale: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO user_profiles (user_id, bio, locale) VALUES ($1, $2, $3)
             ON CONFLICT (user_id) DO UPDATE SET bio = $2, locale = $3",
            &[&user, &bio, &locale],
        )?;
        Ok(())
    }

    /// Bio and locale.
    pub fn profile(&mut self, user: i64) -> Result<Option<(String, String)>> {
        Ok(self
            .db()
            .query_opt(
                "SELECT bio, locale FROM user_profiles WHERE user_id = $1",
                &[&user],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }

    /// Sets one setting.
    pub fn set_setting(&mut self, user: i64, key: &str, value: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO user_settings (user_id, key, value) VALUES ($1, $2, $3)
             ON CONFLICT (user_id, key) DO UPDATE SET value = $3",
            &[&user, &key, &value],
        )?;
        Ok(())
    }

    /// One setting.
    pub fn setting(&mut self, user: i64, key: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .query_opt(
                "SELECT value FROM user_settings WHERE user_id = $1 AND key = $2",
                &[&user, &key],
            )?
            .map(|r| r.get(0)))
    }

    /// All settings, by key.
    pub fn settings(&mut self, user: i64) -> Result<Vec<(String, String)>> {
        Ok(self
            .db()
            .query(
                "SELECT key, value FROM user_settings WHERE user_id = $1 ORDER BY key",
                &[&user],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Opens a session valid for `ttl_secs` (negative: already expired).
    pub fn open_session(&mut self, user: i64, token: &str, ttl_secs: i32) -> Result<()> {
        self.db().execute(
            "INSERT INTO sessions (token, user_id, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))",
            &[&token, &user, &f64::from(ttl_secs)],
        )?;
        Ok(())
    }

    /// The user of a live session.
    pub fn session_user(&mut self, token: &str) -> Result<Option<i64>> {
        Ok(self
            .db()
            .query_opt(
                "SELECT user_id FROM sessions WHERE token = $1 AND expires_at > now()",
                &[&token],
            )?
            .map(|r| r.get(0)))
    }

    /// Ends a session.
    pub fn close_session(&mut self, token: &str) -> Result<bool> {
        Ok(self
            .db()
            .execute("DELETE FROM sessions WHERE token = $1", &[&token])?
            == 1)
    }

    /// Deletes expired sessions; returns how many.
    pub fn purge_sessions(&mut self) -> Result<u64> {
        Ok(self
            .db()
            .execute("DELETE FROM sessions WHERE expires_at <= now()", &[])?)
    }

    /// `user` blocks `other`.
    pub fn block(&mut self, user: i64, other: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO blocked_users (user_id, blocked_user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&user, &other],
        )?;
        Ok(())
    }

    /// Whether `user` blocked `other`.
    pub fn is_blocked(&mut self, user: i64, other: i64) -> Result<bool> {
        Ok(self
            .db()
            .query_opt(
                "SELECT 1 FROM blocked_users WHERE user_id = $1 AND blocked_user_id = $2",
                &[&user, &other],
            )?
            .is_some())
    }

    // --- channels ----------------------------------------------------

    /// Creates a channel; its creator becomes its owner.
    pub fn create_channel(
        &mut self,
        tenant: i64,
        name: &str,
        topic: &str,
        private: bool,
        creator: i64,
    ) -> Result<i64> {
        let id = self.one_i64(
            "INSERT INTO channels (tenant_id, name, topic, is_private, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&tenant, &name, &topic, &private, &creator],
        )?;
        self.join(id, creator, "owner")?;
        Ok(id)
    }

    /// Adds a member with a role (`owner`, `moderator`, `member`).
    pub fn join(&mut self, channel: i64, user: i64, role: &str) -> Result<()> {
        self.db().execute(
            "INSERT INTO channel_members (channel_id, user_id, role) VALUES ($1, $2, $3)
             ON CONFLICT (channel_id, user_id) DO UPDATE SET role = $3",
            &[&channel, &user, &role],
        )?;
        Ok(())
    }

    /// Removes a member.
    pub fn leave(&mut self, channel: i64, user: i64) -> Result<bool> {
        Ok(self.db().execute(
            "DELETE FROM channel_members WHERE channel_id = $1 AND user_id = $2",
            &[&channel, &user],
        )? == 1)
    }

    /// Member ids in join order.
    pub fn members(&mut self, channel: i64) -> Result<Vec<i64>> {
        Ok(self
            .db()
            .query(
                "SELECT user_id FROM channel_members WHERE channel_id = $1 ORDER BY joined_at, user_id",
                &[&channel],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// The role of a member.
    pub fn role(&mut self, channel: i64, user: i64) -> Result<Option<String>> {
        Ok(self
            .db()
            .query_opt(
                "SELECT role FROM channel_members WHERE channel_id = $1 AND user_id = $2",
                &[&channel, &user],
            )?
            .map(|r| r.get(0)))
    }

    /// Channel ids of a tenant by name.
    pub fn channels(&mut self, tenant: i64) -> Result<Vec<(i64, String)>> {
        Ok(self
            .db()
            .query(
                "SELECT id, name FROM channels WHERE tenant_id = $1 AND archived_at IS NULL ORDER BY name",
                &[&tenant],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Archives a channel (hidden from `channels`).
    pub fn archive_channel(&mut self, channel: i64) -> Result<()> {
        match self.db().execute(
            "UPDATE channels SET archived_at = now() WHERE id = $1",
            &[&channel],
        )? {
            0 => Err(StoreError::NotFound("channel", channel)),
            _ => Ok(()),
        }
    }

    /// Sets the topic.
    pub fn set_topic(&mut self, channel: i64, topic: &str) -> Result<()> {
        self.db().execute(
            "UPDATE channels SET topic = $2 WHERE id = $1",
            &[&channel, &topic],
        )?;
        Ok(())
    }

    /// (members, visible messages) of a channel, from the `channel_stats` view.
    pub fn channel_stats(&mut self, channel: i64) -> Result<(i64, i64)> {
        let r = self.db().query_one(
            "SELECT members, messages FROM channel_stats WHERE channel_id = $1",
            &[&channel],
        )?;
        Ok((r.get(0), r.get(1)))
    }

    // --- messages ----------------------------------------------------

    /// Posts a message: only members may post; `@handle`s of the tenant
    /// become mentions; every other member gets a delivery.
    pub fn post(
        &mut self,
        channel: i64,
        author: i64,
        body: &str,
        reply_to: Option<i64>,
    ) -> Result<i64> {
        if self.role(channel, author)?.is_none() {
            return Err(StoreError::Denied(format!(
                "user {author} is not a member of channel {channel}"
            )));
        }
        let id = self.one_i64(
            "INSERT INTO messages (channel_id, author_id, body, reply_to) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&channel, &author, &body, &reply_to],
        )?;
        let handles: Vec<String> = body
            .split_whitespace()
            .filter_map(|w| w.strip_prefix('@'))
            .map(|h| {
                h.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '-')
                    .to_owned()
            })
            .collect();
        if !handles.is_empty() {
            self.db().execute(
                "INSERT INTO mentions (message_id, user_id)
                 SELECT $1, u.id FROM users u JOIN channels c ON c.tenant_id = u.tenant_id
                  WHERE c.id = $2 AND u.handle = ANY ($3)
                 ON CONFLICT DO NOTHING",
                &[&id, &channel, &handles],
            )?;
        }
        self.db().execute(
            "INSERT INTO delivery_queue (message_id, recipient_id)
             SELECT $1, m.user_id FROM channel_members m
              WHERE m.channel_id = $2 AND m.user_id <> $3
                AND NOT EXISTS (SELECT 1 FROM blocked_users b WHERE b.user_id = m.user_id AND b.blocked_user_id = $3)",
            &[&id, &channel, &author],
        )?;
        Ok(id)
    }

    /// Changes a message's text, keeping the old one.
    pub fn edit(&mut self, message: i64, body: &str) -> Result<()> {
        let n = self.db().execute(
            "WITH old AS (SELECT id, body FROM messages WHERE id = $1 AND deleted_at IS NULL FOR UPDATE),
                  hist AS (INSERT INTO message_edits (message_id, old_body) SELECT id, body FROM old)
             UPDATE messages SET body = $2, edited_at = clock_timestamp() WHERE id IN (SELECT id FROM old)",
            &[&message, &body],
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("message", message));
        }
        Ok(())
    }

    /// Earlier versions of a message, oldest first.
    pub fn edits(&mut self, message: i64) -> Result<Vec<String>> {
        Ok(self
            .db()
            .query(
                "SELECT old_body FROM message_edits WHERE message_id = $1 ORDER BY id",
                &[&message],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// Hides a message.
    pub fn delete_message(&mut self, message: i64) -> Result<()> {
        match self.db().execute(
            "UPDATE messages SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
            &[&message],
        )? {
            0 => Err(StoreError::NotFound("message", message)),
            _ => Ok(()),
        }
    }

    /// The last `limit` visible messages of a channel, oldest first.
    pub fn history(&mut self, channel: i64, limit: i64) -> Result<Vec<Message>> {
        let rows = self.db().query(
            "SELECT * FROM (
                SELECT id, channel_id, author_id, body, reply_to, edited_at IS NOT NULL, sent_at
                  FROM messages WHERE channel_id = $1 AND deleted_at IS NULL
                 ORDER BY sent_at DESC, id DESC LIMIT $2) m
             ORDER BY sent_at, id",
            &[&channel, &limit],
        )?;
        Ok(rows
            .into_iter()
            .map(|r| Message {
                id: r.get(0),
                channel_id: r.get(1),
                author_id: r.get(2),
                body: r.get(3),
                reply_to: r.get(4),
                edited: r.get(5),
            })
            .collect())
    }

    /// Full-text search over a tenant's visible messages.
    pub fn search(&mut self, tenant: i64, words: &str) -> Result<Vec<i64>> {
        Ok(self
            .db()
            .query(
                "SELECT m.id FROM messages m JOIN channels c ON c.id = m.channel_id
                  WHERE c.tenant_id = $1 AND m.deleted_at IS NULL
                    AND to_tsvector('simple', m.body) @@ plainto_tsquery('simple', $2)
                  ORDER BY m.id",
                &[&tenant, &words],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// Adds a reaction; false if it was already there.
    pub fn react(&mut self, message: i64, user: i64, emoji: &str) -> Result<bool> {
        Ok(self.db().execute(
            "INSERT INTO reactions (message_id, user_id, emoji) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&message, &user, &emoji],
        )? == 1)
    }

    /// Reactions of a message: (emoji, count), most frequent first.
    pub fn reactions(&mut self, message: i64) -> Result<Vec<(String, i64)>> {
        Ok(self
            .db()
            .query(
                "SELECT emoji, count(*) FROM reactions WHERE message_id = $1 GROUP BY emoji ORDER BY 2 DESC, 1",
                &[&message],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Attaches a file; returns the SHA-256 the database computed.
    pub fn attach(
        &mut self,
        message: i64,
        filename: &str,
        content_type: &str,
        data: &[u8],
    ) -> Result<String> {
        Ok(self
            .db()
            .query_one(
                "INSERT INTO attachments (message_id, filename, content_type, size_bytes, sha256, data)
                 VALUES ($1, $2, $3, length($4::bytea), encode(sha256($4::bytea), 'hex'), $4)
                 RETURNING sha256",
                &[&message, &filename, &content_type, &data],
            )?
            .get(0))
    }

    /// (filename, size) of a message's attachments.
    pub fn attachments(&mut self, message: i64) -> Result<Vec<(String, i64)>> {
        Ok(self
            .db()
            .query(
                "SELECT filename, size_bytes FROM attachments WHERE message_id = $1 ORDER BY id",
                &[&message],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Messages mentioning a user.
    pub fn mentions_of(&mut self, user: i64) -> Result<Vec<i64>> {
        Ok(self
            .db()
            .query(
                "SELECT message_id FROM mentions WHERE user_id = $1 ORDER BY message_id",
                &[&user],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// How many replies a message has (kept by a trigger).
    pub fn reply_count(&mut self, root: i64) -> Result<i32> {
        Ok(self
            .db()
            .query_opt(
                "SELECT reply_count FROM threads WHERE root_message_id = $1",
                &[&root],
            )?
            .map_or(0, |r| r.get(0)))
    }

    /// Records that `user` read `channel` up to `message`.
    pub fn mark_read(&mut self, channel: i64, user: i64, message: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO read_receipts (channel_id, user_id, last_read_message_id) VALUES ($1, $2, $3)
             ON CONFLICT (channel_id, user_id) DO UPDATE
                SET last_read_message_id = greatest(read_receipts.last_read_message_id, $3), read_at = now()",
            &[&channel, &user, &message],
        )?;
        Ok(())
    }

    /// Visible messages of others after the user's read mark.
    pub fn unread(&mut self, channel: i64, user: i64) -> Result<i64> {
        self.one_i64(
            "SELECT count(*) FROM messages m
              WHERE m.channel_id = $1 AND m.deleted_at IS NULL AND m.author_id IS DISTINCT FROM $2
                AND m.id > coalesce((SELECT last_read_message_id FROM read_receipts
                                      WHERE channel_id = $1 AND user_id = $2), 0)",
            &[&channel, &user],
        )
    }

    /// Pins a message.
    pub fn pin(&mut self, channel: i64, message: i64, by: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO pins (channel_id, message_id, pinned_by) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            &[&channel, &message, &by],
        )?;
        Ok(())
    }

    /// Unpins a message.
    pub fn unpin(&mut self, channel: i64, message: i64) -> Result<bool> {
        Ok(self.db().execute(
            "DELETE FROM pins WHERE channel_id = $1 AND message_id = $2",
            &[&channel, &message],
        )? == 1)
    }

    /// Pinned messages of a channel.
    pub fn pins(&mut self, channel: i64) -> Result<Vec<i64>> {
        Ok(self
            .db()
            .query(
                "SELECT message_id FROM pins WHERE channel_id = $1 ORDER BY message_id",
                &[&channel],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// Tags a message (the tag is created on first use).
    pub fn tag(&mut self, message: i64, tenant: i64, tag: &str) -> Result<()> {
        let tag_id = self.one_i64(
            "INSERT INTO tags (tenant_id, name) VALUES ($1, $2)
             ON CONFLICT (tenant_id, name) DO UPDATE SET name = excluded.name RETURNING id",
            &[&tenant, &tag],
        )?;
        self.db().execute(
            "INSERT INTO message_tags (message_id, tag_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&message, &tag_id],
        )?;
        Ok(())
    }

    /// Messages with a tag.
    pub fn tagged(&mut self, tenant: i64, tag: &str) -> Result<Vec<i64>> {
        Ok(self
            .db()
            .query(
                "SELECT mt.message_id FROM message_tags mt JOIN tags t ON t.id = mt.tag_id
                  WHERE t.tenant_id = $1 AND t.name = $2 ORDER BY 1",
                &[&tenant, &tag],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    // --- echo traffic ------------------------------------------------

    /// Records a request the echo server received.
    pub fn echo_request(&mut self, session: &str, payload: &[u8]) -> Result<i64> {
        self.one_i64(
            "INSERT INTO echo_requests (session, payload) VALUES ($1, $2) RETURNING id",
            &[&session, &payload],
        )
    }

    /// Records the answer to a request.
    pub fn echo_response(&mut self, request: i64, payload: &[u8], latency_us: i64) -> Result<()> {
        self.db().execute(
            "INSERT INTO echo_responses (request_id, payload, latency_us) VALUES ($1, $2, $3)",
            &[&request, &payload, &latency_us],
        )?;
        Ok(())
    }

    /// (requests, answered, mean latency in µs) of a session.
    pub fn echo_stats(&mut self, session: &str) -> Result<(i64, i64, Option<f64>)> {
        let r = self.db().query_one(
            "SELECT count(q.id), count(r.request_id), avg(r.latency_us)::float8
               FROM echo_requests q LEFT JOIN echo_responses r ON r.request_id = q.id
              WHERE q.session = $1",
            &[&session],
        )?;
        Ok((r.get(0), r.get(1), r.get(2)))
    }

    /// Requests whose answer's payload differs from the request's.
    pub fn echo_mismatches(&mut self, session: &str) -> Result<Vec<i64>> {
        Ok(self
            .db()
            .query(
                "SELECT q.id FROM echo_requests q JOIN echo_responses r ON r.request_id = q.id
                  WHERE q.session = $1 AND q.payload <> r.payload ORDER BY q.id",
                &[&session],
            )?
            .into_iter()
            .map(|r| r.get(0))
            .collect())
    }

    // --- deliveries, webhooks, limits, audit ---------------------------

    /// Due deliveries: (id, message, recipient), oldest first.
    pub fn due_deliveries(&mut self, limit: i64) -> Result<Vec<(i64, i64, i64)>> {
        Ok(self
            .db()
            .query(
                "SELECT id, message_id, recipient_id FROM delivery_queue
                  WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY id LIMIT $1",
                &[&limit],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    /// Marks a delivery done.
    pub fn delivered(&mut self, delivery: i64) -> Result<()> {
        self.db().execute(
            "UPDATE delivery_queue SET state = 'delivered', attempts = attempts + 1 WHERE id = $1",
            &[&delivery],
        )?;
        Ok(())
    }

    /// Records a failed attempt: retried after `retry_secs`, given up
    /// after `max_attempts`.
    pub fn delivery_failed(
        &mut self,
        delivery: i64,
        retry_secs: i32,
        max_attempts: i32,
    ) -> Result<()> {
        self.db().execute(
            "UPDATE delivery_queue
                SET attempts = attempts + 1,
                    state = CASE WHEN attempts + 1 >= $3 THEN 'failed'::delivery_state ELSE 'pending' END,
                    next_attempt_at = now() + make_interval(secs => $2)
              WHERE id = $1",
            &[&delivery, &f64::from(retry_secs), &max_attempts],
        )?;
        Ok(())
    }

    /// (pending, delivered, failed) deliveries.
    pub fn delivery_counts(&mut self) -> Result<(i64, i64, i64)> {
        let r = self.db().query_one(
            "SELECT count(*) FILTER (WHERE state = 'pending'),
                    count(*) FILTER (WHERE state = 'delivered'),
                    count(*) FILTER (WHERE state = 'failed')
               FROM delivery_queue",
            &[],
        )?;
        Ok((r.get(0), r.get(1), r.get(2)))
    }

    /// Registers a webhook of a channel.
    pub fn add_webhook(&mut self, channel: i64, url: &str, secret: &str) -> Result<i64> {
        self.one_i64(
            "INSERT INTO webhooks (channel_id, url, secret) VALUES ($1, $2, $3) RETURNING id",
            &[&channel, &url, &secret],
        )
    }

    /// Active webhooks of a channel.
    pub fn webhooks(&mut self, channel: i64) -> Result<Vec<(i64, String)>> {
        Ok(self
            .db()
            .query(
                "SELECT id, url FROM webhooks WHERE channel_id = $1 AND active ORDER BY id",
                &[&channel],
            )?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    /// Turns a webhook off.
    pub fn disable_webhook(&mut self, webhook: i64) -> Result<()> {
        self.db().execute(
            "UPDATE webhooks SET active = false WHERE id = $1",
            &[&webhook],
        )?;
        Ok(())
    }

    /// Records a call of a webhook for a message.
    pub fn record_webhook_call(&mut self, webhook: i64, message: i64, status: i32) -> Result<i64> {
        self.one_i64(
            "INSERT INTO webhook_deliveries (webhook_id, message_id, status_code) VALUES ($1, $2, $3) RETURNING id",
            &[&webhook, &message, &status],
        )
    }

    /// Share of 2xx answers of a webhook.
    pub fn webhook_success_rate(&mut self, webhook: i64) -> Result<Option<f64>> {
        Ok(self
            .db()
            .query_one(
                "SELECT avg(CASE WHEN status_code BETWEEN 200 AND 299 THEN 1.0 ELSE 0.0 END)::float8
                   FROM webhook_deliveries WHERE webhook_id = $1",
                &[&webhook],
            )?
            .get(0))
    }

    /// Counts a hit in the user's rate-limit window; returns the count.
    pub fn hit(&mut self, user: i64, window: &str) -> Result<i32> {
        Ok(self
            .db()
            .query_one(
                "INSERT INTO rate_limits (user_id, window_start, hits) VALUES ($1, $2::text::timestamptz, 1)
                 ON CONFLICT (user_id, window_start) DO UPDATE SET hits = rate_limits.hits + 1
                 RETURNING hits",
                &[&user, &window],
            )?
            .get(0))
    }

    /// Appends to the audit log (`details` is JSON).
    pub fn audit(
        &mut self,
        tenant: i64,
        actor: Option<i64>,
        action: &str,
        details: &str,
    ) -> Result<i64> {
        self.one_i64(
            "INSERT INTO audit_log (tenant_id, actor_id, action, details) VALUES ($1, $2, $3, $4::text::jsonb) RETURNING id",
            &[&tenant, &actor, &action, &details],
        )
    }

    /// Audit entries of a tenant with an action.
    pub fn audit_count(&mut self, tenant: i64, action: &str) -> Result<i64> {
        self.one_i64(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND action = $2",
            &[&tenant, &action],
        )
    }

    /// A value from an audit entry's details.
    pub fn audit_detail(&mut self, entry: i64, key: &str) -> Result<Option<String>> {
        Ok(self
            .db()
            .query_one(
                "SELECT details ->> $2 FROM audit_log WHERE id = $1",
                &[&entry, &key],
            )?
            .get(0))
    }
}
