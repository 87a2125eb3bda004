//! The control database `gantry_control`: the table of pool members and
//! templates, and the lease protocol.
//!
//! A lease is a session-level advisory lock on the member's key, held by
//! the leasing process's control connection. PostgreSQL drops it when that
//! connection ends, so a test process that dies (SIGKILL, OOM, power cut
//! of a CI runner) cannot keep a database. The `state` column says whether
//! a member can be handed out as is: holders set it to `clean` before they
//! unlock, so a member found unlocked but not `clean` was lost by a dead
//! holder and is recreated before reuse.
//!
//! States: `reserved` (row made, database not yet dropped and cloned),
//! `creating` (old database dropped, clone under way: if the database
//! exists, the clone finished and only the bookkeeping was lost), `clean`,
//! `leased`, `stale` (must be recreated: the schema changed, the reset
//! failed, or `reset = "recreate"`).

use postgres::Client;
use sha2::{Digest, Sha256};

/// Bumped when the control schema changes.
const CONTROL_VERSION: i32 = 3;

/// Creates or upgrades the control schema. Serialized by a transaction
/// advisory lock, since concurrent `CREATE TABLE IF NOT EXISTS` races.
pub(crate) fn ensure_schema(client: &mut Client) -> Result<(), postgres::Error> {
    let current = client
        .query_opt(
            "SELECT version FROM gantry_meta WHERE version >= $1",
            &[&CONTROL_VERSION],
        )
        .ok()
        .flatten();
    if current.is_some() {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.batch_execute(&format!(
        "SELECT pg_advisory_xact_lock({});
         CREATE TABLE IF NOT EXISTS gantry_meta (version int NOT NULL);
         CREATE TABLE IF NOT EXISTS gantry_template (
             name text PRIMARY KEY,
             pool text NOT NULL,
             config text NOT NULL,
             workspace text NOT NULL,
             hash text NOT NULL,
             built_at timestamptz NOT NULL DEFAULT now(),
             build_ms int NOT NULL DEFAULT 0
         );
         ALTER TABLE gantry_template ADD COLUMN IF NOT EXISTS used_at timestamptz NOT NULL DEFAULT now();
         CREATE TABLE IF NOT EXISTS gantry_member (
             name text PRIMARY KEY,
             pool text NOT NULL,
             template text NOT NULL,
             lock_key bigint NOT NULL,
             state text NOT NULL,
             holder text,
             holder_pid int,
             leased_at timestamptz,
             created_at timestamptz NOT NULL DEFAULT now()
         );
         CREATE INDEX IF NOT EXISTS gantry_member_template ON gantry_member (template);
         DROP FUNCTION IF EXISTS gantry_try_lease(text, bigint[], text[], text);
         CREATE FUNCTION gantry_try_lease(
             p_template text, p_exclude bigint[], p_prefer text[], p_holder text)
         RETURNS TABLE (member text, key bigint, was text)
         LANGUAGE plpgsql AS $f$
         DECLARE
             r record;
             st text;
         BEGIN
             FOR r IN SELECT m.name, m.lock_key, m.state FROM gantry_member m
                      WHERE m.template = p_template
                      ORDER BY (m.state = 'clean') DESC, (m.name = ANY (p_prefer)) DESC, m.name
             LOOP
                 CONTINUE WHEN r.lock_key = ANY (p_exclude);
                 IF pg_try_advisory_lock(r.lock_key) THEN
                     SELECT m.state INTO st FROM gantry_member m WHERE m.name = r.name;
                     IF NOT FOUND THEN
                         PERFORM pg_advisory_unlock(r.lock_key);
                         CONTINUE;
                     END IF;
                     UPDATE gantry_member m
                        SET state = 'leased', holder = p_holder,
                            holder_pid = pg_backend_pid(), leased_at = now()
                      WHERE m.name = r.name;
                     member := r.name;
                     key := r.lock_key;
                     was := st;
                     RETURN NEXT;
                     RETURN;
                 END IF;
             END LOOP;
         END
         $f$;
         -- Every role that runs tests against this server shares the
         -- bookkeeping; it holds nothing but database names.
         GRANT SELECT, INSERT, UPDATE, DELETE ON gantry_meta, gantry_template, gantry_member TO PUBLIC;
         DELETE FROM gantry_meta;
         INSERT INTO gantry_meta VALUES ({CONTROL_VERSION});",
        lock_key("control-schema")
    ))?;
    tx.commit()
}

/// The advisory-lock key of a name (a member database, a template build).
pub(crate) fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("gantry-db:{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// One round trip: mark `member` with `state` (only if this session holds
/// its lease), commit, then unlock, in that order, so that whoever takes
/// the lock next sees the new state.
pub(crate) fn release(
    client: &mut Client,
    member: &str,
    key: i64,
    state: &str,
) -> Result<(), postgres::Error> {
    debug_assert!(is_plain_name(member) && is_plain_name(state));
    client.batch_execute(&format!(
        "UPDATE gantry_member SET state = '{state}', holder = NULL, holder_pid = NULL, leased_at = NULL \
         WHERE name = '{member}' AND holder_pid = pg_backend_pid(); \
         COMMIT; \
         SELECT pg_advisory_unlock({key})"
    ))
}

/// Whether a name is safe to put into SQL text unquoted (names gantry
/// generates are).
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// A member row, for status and sweeping.
#[derive(Clone, Debug)]
pub(crate) struct MemberRow {
    pub name: String,
    pub template: String,
    pub lock_key: i64,
    pub state: String,
    pub holder: Option<String>,
    pub leased_secs: Option<f64>,
    /// Whether some session holds the member's advisory lock right now.
    pub locked: bool,
}

/// The members whose names start with `prefix`.
pub(crate) fn members(
    client: &mut Client,
    prefix: &str,
) -> Result<Vec<MemberRow>, postgres::Error> {
    let rows = client.query(
        "SELECT m.name, m.template, m.lock_key, m.state, m.holder,
                extract(epoch FROM now() - m.leased_at)::float8,
                EXISTS (SELECT 1 FROM pg_locks l
                         WHERE l.locktype = 'advisory' AND l.granted
                           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                           AND l.classid::bigint = ((m.lock_key >> 32) & 4294967295)
                           AND l.objid::bigint = (m.lock_key & 4294967295)
                           AND l.objsubid = 1)
           FROM gantry_member m
          WHERE starts_with(m.name, $1)
          ORDER BY m.name",
        &[&prefix],
    )?;
    Ok(rows
        .into_iter()
        .map(|r| MemberRow {
            name: r.get(0),
            template: r.get(1),
            lock_key: r.get(2),
            state: r.get(3),
            holder: r.get(4),
            leased_secs: r.get(5),
            locked: r.get(6),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(lock_key("a"), lock_key("a"));
        assert_ne!(lock_key("a"), lock_key("b"));
        assert!(is_plain_name("gantry_ab12_3"));
        assert!(!is_plain_name("x'; drop"));
    }
}
