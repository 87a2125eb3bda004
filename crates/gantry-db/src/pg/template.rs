//! Template databases: built once per content hash of the migrations and
//! seed, under an advisory lock so that concurrent processes build it
//! once, and equipped with what makes the fast reset possible.
//!
//! What gantry adds to a template, in the schema `_gantry`:
//! - a statement-level trigger on every table that records the table in
//!   the unlogged table `_gantry.written` when a statement writes it, so
//!   that a reset touches only the tables a test wrote (emptying all
//!   tables costs ~1 ms per table; a test usually writes two or three);
//! - a copy of every table's seed rows and every sequence's position, so
//!   that a reset restores them;
//! - event triggers that flag any schema change (on superuser
//!   connections), or else a catalog fingerprint, so that a database
//!   whose schema a test changed is recreated instead of reused;
//! - `_gantry.reset()`, which does the whole reset in one round trip.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use postgres::error::ErrorPosition;
use postgres::Client;

use super::control::lock_key;
use super::server::Server;
use crate::error::{describe_pg, DbError, Result};
use crate::migrations::{
    char_pos_to_byte, line_of, shorten, split_statements, statement_at, statement_start,
    MigrationSet, SqlFile,
};

/// Tables above this size are emptied with TRUNCATE rather than DELETE.
pub(crate) const TRUNCATE_ABOVE_BYTES: i64 = 8 * 1024 * 1024;

/// The database names of one pool generation (pool id + content hash).
#[derive(Clone, Debug)]
pub(crate) struct Names {
    /// `gantry_<pool id>_`: every database of the pool.
    pub pool_prefix: String,
    /// `gantry_<pool id>_<hash>_`: every database of this template.
    pub prefix: String,
}

impl Names {
    pub fn new(pool_id: &str, hash: &str) -> Names {
        Names {
            pool_prefix: format!("gantry_{pool_id}_"),
            prefix: format!("gantry_{pool_id}_{}_", &hash[..12]),
        }
    }
    pub fn template(&self) -> String {
        format!("{}t", self.prefix)
    }
    pub fn build(&self) -> String {
        format!("{}b", self.prefix)
    }
    pub fn inspect(&self) -> String {
        format!("{}i", self.prefix)
    }
    pub fn member(&self, n: usize) -> String {
        format!("{}{n}", self.prefix)
    }
    /// Databases of the migrate-per-test baseline strategy.
    pub fn baseline(&self, pid: u32, n: u64) -> String {
        format!("{}x{pid}_{n}", self.pool_prefix)
    }
}

/// The `STRATEGY` clause of CREATE DATABASE: FILE_COPY copies the files
/// of a small template in one go, which is what test databases want.
pub(crate) fn clone_sql(major: u32, name: &str, template: &str) -> String {
    if major >= 15 {
        format!("CREATE DATABASE {name} TEMPLATE {template} STRATEGY FILE_COPY")
    } else {
        format!("CREATE DATABASE {name} TEMPLATE {template}")
    }
}

/// The server's major version.
pub(crate) fn server_major(client: &mut Client) -> Result<u32> {
    let v: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .map_err(|e| DbError::pg("reading the server version", e))?
        .get(0);
    Ok((v / 10000) as u32)
}

/// Builds the template `names.template()` unless it exists. `control`
/// is a connection to `gantry_control`.
pub(crate) fn ensure_template(
    server: &Server,
    control: &mut Client,
    names: &Names,
    set: &MigrationSet,
    pool_id: &str,
    config_name: &str,
    workspace: &str,
) -> Result<()> {
    let tpl = names.template();
    // The build lock also orders this against `sweep` dropping the
    // template as outdated: either we mark it used first, or it is gone
    // and we build it again.
    let key = build_lock_key(&tpl);
    control
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .map_err(|e| DbError::pg(format!("waiting for the build lock of `{tpl}`"), e))?;
    let result = (|| {
        if template_exists(control, &tpl)? {
            return Ok(());
        }
        let started = Instant::now();
        let build = names.build();
        let major = server_major(control)?;
        control
            .batch_execute(&format!("DROP DATABASE IF EXISTS {build} WITH (FORCE)"))
            .map_err(|e| DbError::pg(format!("dropping the unfinished template `{build}`"), e))?;
        control
            .batch_execute(&format!("CREATE DATABASE {build} TEMPLATE template0"))
            .map_err(|e| {
                DbError::pg(
                    format!("creating the template `{build}` on {}", server.describe()),
                    e,
                )
            })?;
        let built = (|| {
            let mut client = server.connect(&build)?;
            apply_all(&mut client, set)?;
            install(&mut client, major)?;
            Ok::<_, DbError>(())
        })();
        if let Err(e) = built {
            let _ = control.batch_execute(&format!("DROP DATABASE IF EXISTS {build} WITH (FORCE)"));
            return Err(e);
        }
        control
            .batch_execute(&format!(
                "ALTER DATABASE {build} RENAME TO {tpl};
                 ALTER DATABASE {tpl} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"
            ))
            .map_err(|e| DbError::pg(format!("finishing the template `{tpl}`"), e))?;
        let ms = started.elapsed().as_millis() as i32;
        control
            .execute(
                "INSERT INTO gantry_template (name, pool, config, workspace, hash, build_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE SET built_at = now(), build_ms = $6",
                &[&tpl, &pool_id, &config_name, &workspace, &set.hash, &ms],
            )
            .map_err(|e| DbError::pg("recording the template", e))?;
        Ok(())
    })();
    let result = result.and_then(|()| mark_used(control, &tpl));
    let _ = control.execute("SELECT pg_advisory_unlock($1)", &[&key]);
    result
}

/// The advisory lock under which a template is built, opened or dropped.
pub(crate) fn build_lock_key(template: &str) -> i64 {
    lock_key(&format!("build:{template}"))
}

/// Records that a process opened the template: of a pool's templates,
/// those opened before the current one are outdated (see
/// `PgPool::sweep`), which also holds when migrations go back and forth
/// between branches.
fn mark_used(control: &mut Client, tpl: &str) -> Result<()> {
    control
        .execute(
            "UPDATE gantry_template SET used_at = now() WHERE name = $1",
            &[&tpl],
        )
        .map_err(|e| DbError::pg("recording the template's use", e))?;
    Ok(())
}

fn template_exists(control: &mut Client, tpl: &str) -> Result<bool> {
    Ok(control
        .query_opt(
            "SELECT 1 FROM gantry_template t JOIN pg_database d ON d.datname = t.name WHERE t.name = $1",
            &[&tpl],
        )
        .map_err(|e| DbError::pg("looking up the template", e))?
        .is_some())
}

/// Applies every migration and then the seed.
pub(crate) fn apply_all(client: &mut Client, set: &MigrationSet) -> Result<()> {
    for f in &set.files {
        apply(client, "migration", f)?;
    }
    if let Some(seed) = &set.seed {
        apply(client, "seed", seed)?;
    }
    Ok(())
}

/// Runs one file as a single script, and on failure names the file, the
/// line and statement, and the server's message.
pub(crate) fn apply(client: &mut Client, kind: &'static str, file: &SqlFile) -> Result<()> {
    let Err(e) = client.batch_execute(&file.sql) else {
        return Ok(());
    };
    let Some(db) = e.as_db_error() else {
        return Err(DbError::pg(
            format!("applying {kind} `{}`", file.display),
            e,
        ));
    };
    let mut message = describe_pg(&e);
    let mut line = None;
    let mut statement = None;
    match db.position() {
        Some(ErrorPosition::Original(pos)) => {
            let at = char_pos_to_byte(&file.sql, *pos);
            line = Some(line_of(&file.sql, at));
            statement = statement_at(&file.sql, at).map(|r| shorten(&file.sql[r]));
        }
        Some(ErrorPosition::Internal { .. }) | None => {
            if let Some(w) = db.where_() {
                message.push_str(&format!("; context: {w}"));
            }
            // The script ran as one implicit transaction and left nothing
            // behind: replay it statement by statement to find the one
            // that fails.
            if let Some(r) = locate_failing(client, &file.sql) {
                line = Some(line_of(&file.sql, statement_start(&file.sql, &r)));
                statement = Some(shorten(&file.sql[r]));
            }
        }
    }
    Err(DbError::Migration {
        kind,
        file: file.display.clone(),
        line,
        statement,
        message,
    })
}

fn locate_failing(client: &mut Client, sql: &str) -> Option<std::ops::Range<usize>> {
    client.batch_execute("BEGIN").ok()?;
    let mut found = None;
    for r in split_statements(sql) {
        if client.batch_execute(&sql[r.clone()]).is_err() {
            found = Some(r);
            break;
        }
    }
    let _ = client.batch_execute("ROLLBACK");
    found
}

/// Installs the reset machinery into a freshly migrated database.
pub(crate) fn install(client: &mut Client, major: u32) -> Result<()> {
    let superuser: bool = client
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .map_err(|e| DbError::pg("checking for superuser rights", e))?
        .get(0);
    let ctx = |what: &str| format!("installing gantry's reset machinery ({what})");
    client
        .batch_execute(BASE_SQL)
        .map_err(|e| DbError::pg(ctx("schema _gantry"), e))?;

    // Tables, their foreign keys and restorable columns.
    let tables: Vec<(i64, String, String)> = client
        .query(
            "SELECT c.oid::int8, c.relkind::text, format('%I.%I', n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't'
                AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', '_gantry')
              ORDER BY 1",
            &[],
        )
        .map_err(|e| DbError::pg(ctx("listing tables"), e))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let oids: Vec<i64> = tables.iter().map(|t| t.0).collect();
    let fks: Vec<(i64, i64)> = client
        .query(
            "SELECT conrelid::int8, confrelid::int8 FROM pg_constraint WHERE contype = 'f'",
            &[],
        )
        .map_err(|e| DbError::pg(ctx("listing foreign keys"), e))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let generated_filter = if major >= 12 {
        "AND attgenerated = ''"
    } else {
        ""
    };
    let cols: BTreeMap<i64, String> = client
        .query(
            &format!(
                "SELECT attrelid::int8, string_agg(quote_ident(attname), ', ' ORDER BY attnum)
                   FROM pg_attribute
                  WHERE attnum > 0 AND NOT attisdropped {generated_filter}
                    AND attrelid::int8 = ANY ($1)
                  GROUP BY attrelid"
            ),
            &[&oids],
        )
        .map_err(|e| DbError::pg(ctx("listing columns"), e))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let (closure, ord) = fk_closure_and_order(&oids, &fks);

    let mut sql = String::new();
    for (oid, kind, qname) in &tables {
        sql.push_str(&format!(
            "CREATE TRIGGER _gantry_track AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {qname} \
             FOR EACH STATEMENT EXECUTE PROCEDURE _gantry.track();\n"
        ));
        let only = if kind == "r" { "ONLY " } else { "" };
        let has_rows: bool = kind == "r"
            && client
                .query_one(&format!("SELECT EXISTS (SELECT 1 FROM ONLY {qname})"), &[])
                .map_err(|e| DbError::pg(ctx("looking for seed rows"), e))?
                .get(0);
        let col_list = cols.get(oid).cloned().unwrap_or_default();
        let seed = if has_rows && !col_list.is_empty() {
            let seed_table = format!("seed_{oid}");
            sql.push_str(&format!(
                "CREATE TABLE _gantry.{seed_table} AS SELECT {col_list} FROM ONLY {qname};\n"
            ));
            format!("'{seed_table}'")
        } else {
            "NULL".to_owned()
        };
        let closure_list = closure[oid]
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        sql.push_str(&format!(
            "INSERT INTO _gantry.tables VALUES ({oid}, {}, '{only}', {seed}, {}, {}, '{{{closure_list}}}');\n",
            quote_literal(qname),
            quote_literal(&col_list),
            ord[oid],
        ));
    }
    client
        .batch_execute(&sql)
        .map_err(|e| DbError::pg(ctx("tracking triggers and seed copies"), e))?;

    // Sequence positions.
    let seqs: Vec<(i64, String)> = client
        .query(
            "SELECT c.oid::int8, format('%I.%I', n.nspname, c.relname)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE c.relkind = 'S' AND c.relpersistence <> 't'
                AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname NOT IN ('information_schema', '_gantry')",
            &[],
        )
        .map_err(|e| DbError::pg(ctx("listing sequences"), e))?
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (oid, qname) in seqs {
        client
            .batch_execute(&format!(
                "INSERT INTO _gantry.seqs SELECT {oid}, last_value, is_called FROM {qname}"
            ))
            .map_err(|e| DbError::pg(ctx("recording sequences"), e))?;
    }

    // The reset function, then schema-change detection, which must come
    // last: it flags every DDL statement, gantry's own included.
    client
        .batch_execute(&reset_function(superuser, major))
        .map_err(|e| DbError::pg(ctx("reset function"), e))?;
    if superuser {
        client
            .batch_execute(EVENT_TRIGGER_SQL)
            .map_err(|e| DbError::pg(ctx("event triggers"), e))?;
    }
    client
        .batch_execute(
            "INSERT INTO _gantry.meta SELECT _gantry.fingerprint();
             UPDATE _gantry.state SET ddl = false;
             ANALYZE;",
        )
        .map_err(|e| DbError::pg(ctx("fingerprint"), e))?;
    Ok(())
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// For each table: itself and every table that references it, directly
/// or transitively (what TRUNCATE must include); and an order in which
/// referenced tables come before the tables referencing them (for
/// restoring seed rows with foreign keys checked).
fn fk_closure_and_order(
    oids: &[i64],
    fks: &[(i64, i64)],
) -> (BTreeMap<i64, BTreeSet<i64>>, BTreeMap<i64, usize>) {
    let known: BTreeSet<i64> = oids.iter().copied().collect();
    let mut referencing: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for &(from, to) in fks {
        if known.contains(&from) && known.contains(&to) {
            referencing.entry(to).or_default().push(from);
        }
    }
    let mut closure = BTreeMap::new();
    for &t in oids {
        let mut seen = BTreeSet::from([t]);
        let mut stack = vec![t];
        while let Some(x) = stack.pop() {
            for &r in referencing.get(&x).into_iter().flatten() {
                if seen.insert(r) {
                    stack.push(r);
                }
            }
        }
        closure.insert(t, seen);
    }
    let mut ord: BTreeMap<i64, usize> = oids.iter().map(|&t| (t, 0)).collect();
    // Longest-path relaxation; cycles stop after |tables| rounds.
    for _ in 0..oids.len() {
        let mut changed = false;
        for &(from, to) in fks {
            if from == to || !known.contains(&from) || !known.contains(&to) {
                continue;
            }
            let want = ord[&to] + 1;
            if ord[&from] < want {
                ord.insert(from, want);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (closure, ord)
}

const BASE_SQL: &str = r#"
CREATE SCHEMA _gantry;
GRANT USAGE ON SCHEMA _gantry TO PUBLIC;
CREATE UNLOGGED TABLE _gantry.written (relid oid PRIMARY KEY);
GRANT SELECT, INSERT ON _gantry.written TO PUBLIC;
CREATE TABLE _gantry.state (ddl boolean NOT NULL);
INSERT INTO _gantry.state VALUES (false);
GRANT SELECT, UPDATE ON _gantry.state TO PUBLIC;
CREATE TABLE _gantry.tables (
    relid oid PRIMARY KEY,
    qname text NOT NULL,
    only_kw text NOT NULL,
    seed text,
    cols text NOT NULL,
    ord int NOT NULL,
    closure oid[] NOT NULL
);
CREATE TABLE _gantry.seqs (seq regclass PRIMARY KEY, last_value bigint NOT NULL, is_called boolean NOT NULL);
CREATE TABLE _gantry.meta (fingerprint text NOT NULL);
CREATE FUNCTION _gantry.track() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO _gantry.written VALUES (TG_RELID) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$f$;
CREATE FUNCTION _gantry.fingerprint() RETURNS text LANGUAGE sql STABLE AS $f$
SELECT md5(coalesce(string_agg(x, '|' ORDER BY x), '')) FROM (
    SELECT format('n%s:%s', n.oid, n.nspname) AS x
      FROM pg_namespace n
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('c%s:%s:%s:%s:%s', c.oid, c.relname, c.relkind, c.relnamespace, c.relnatts)
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('a%s:%s:%s:%s:%s:%s', a.attrelid, a.attnum, a.attname, a.atttypid, a.attnotnull, a.attisdropped)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attnum > 0 AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('d%s:%s:%s', d.adrelid, d.adnum, md5(pg_get_expr(d.adbin, d.adrelid)))
      FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('k%s:%s:%s', k.oid, k.conname, md5(pg_get_constraintdef(k.oid)))
      FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('p%s:%s:%s', p.oid, p.proname, md5(p.prosrc))
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('t%s:%s:%s', t.oid, t.tgname, t.tgenabled)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
    UNION ALL
    SELECT format('y%s:%s', y.oid, y.typname)
      FROM pg_type y JOIN pg_namespace n ON n.oid = y.typnamespace
     WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
) s
$f$;
"#;

const EVENT_TRIGGER_SQL: &str = r#"
CREATE FUNCTION _gantry.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c
                WHERE c.schema_name IS NULL OR c.schema_name NOT LIKE 'pg\_temp%') THEN
        UPDATE _gantry.state SET ddl = true;
    END IF;
END
$f$;
CREATE FUNCTION _gantry.on_drop() RETURNS event_trigger LANGUAGE plpgsql AS $f$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d WHERE NOT d.is_temporary) THEN
        UPDATE _gantry.state SET ddl = true;
    END IF;
END
$f$;
CREATE EVENT TRIGGER _gantry_ddl ON ddl_command_end EXECUTE PROCEDURE _gantry.on_ddl();
CREATE EVENT TRIGGER _gantry_drop ON sql_drop EXECUTE PROCEDURE _gantry.on_drop();
"#;

/// `_gantry.reset(big, spare)`: returns `ok`, or why the database must
/// be recreated instead.
///
/// First it disconnects every other session on the database except
/// `spare` (the test's pooled connection, which the caller has cleaned
/// with DISCARD ALL): a connection a test leaked must not see the next
/// test's data. As superuser, on a connection in
/// `session_replication_role = replica` (set when the connection is
/// opened, since changing it discards every cached plan), it DELETEs the
/// written tables without foreign-key checks or user triggers (~0.1 ms
/// per table where TRUNCATE costs ~1 ms) and TRUNCATEs only tables larger
/// than `big` bytes. Otherwise it TRUNCATEs the written tables and those
/// referencing them. Then it restores seed rows and sequences.
fn reset_function(superuser: bool, _major: u32) -> String {
    let schema_check = if superuser {
        "IF (SELECT s.ddl FROM _gantry.state s) THEN RETURN 'the test changed the schema'; END IF;"
    } else {
        "IF _gantry.fingerprint() IS DISTINCT FROM (SELECT m.fingerprint FROM _gantry.meta m) THEN RETURN 'the test changed the schema'; END IF;"
    };
    let empty_tables = if superuser {
        r#"
        IF current_setting('session_replication_role') <> 'replica' THEN
            SET LOCAL session_replication_role = replica;
        END IF;
        FOR r IN SELECT t.relid, t.qname, t.only_kw, t.closure FROM _gantry.written w
                 JOIN _gantry.tables t ON t.relid = w.relid LOOP
            IF pg_relation_size(r.relid) > big THEN
                trunc := trunc || r.closure;
            ELSE
                EXECUTE 'DELETE FROM ' || r.only_kw || r.qname;
                touched := touched || r.relid;
            END IF;
        END LOOP;"#
    } else {
        r#"
        SELECT coalesce(array_agg(DISTINCT c), '{}') INTO trunc
          FROM _gantry.written w JOIN _gantry.tables t ON t.relid = w.relid, unnest(t.closure) c;"#
    };
    format!(
        r#"
CREATE FUNCTION _gantry.reset(big bigint, spare int) RETURNS text LANGUAGE plpgsql AS $f$
DECLARE
    r record;
    trunc oid[] := '{{}}';
    touched oid[] := '{{}}';
    list text;
    dboid oid := (SELECT d.oid FROM pg_database d WHERE d.datname = current_database());
BEGIN
    IF pg_stat_get_db_numbackends(dboid) > (CASE WHEN spare IS NULL THEN 1 ELSE 2 END) THEN
        PERFORM pg_terminate_backend(a.pid) FROM pg_stat_get_activity(NULL) a
          WHERE a.datid = dboid AND a.pid <> pg_backend_pid() AND a.pid IS DISTINCT FROM spare
            AND a.backend_type = 'client backend';
    END IF;
    {schema_check}
    IF EXISTS (SELECT 1 FROM _gantry.written) THEN
        {empty_tables}
        IF cardinality(trunc) > 0 THEN
            SELECT string_agg(t.qname, ', ') INTO list FROM _gantry.tables t WHERE t.relid = ANY (trunc);
            EXECUTE 'TRUNCATE ' || list || ' CASCADE';
            touched := touched || trunc;
        END IF;
        FOR r IN SELECT t.qname, t.seed, t.cols FROM _gantry.tables t
                  WHERE t.relid = ANY (touched) AND t.seed IS NOT NULL ORDER BY t.ord LOOP
            EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM _gantry.%I',
                           r.qname, r.cols, r.cols, r.seed);
        END LOOP;
        DELETE FROM _gantry.written;
    END IF;
    FOR r IN SELECT s.seq, s.last_value, s.is_called FROM _gantry.seqs s LOOP
        IF pg_sequence_last_value(r.seq) IS DISTINCT FROM
           (CASE WHEN r.is_called THEN r.last_value END) THEN
            PERFORM setval(r.seq, r.last_value, r.is_called);
        END IF;
    END LOOP;
    RETURN 'ok';
END
$f$;
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_includes_referencing_tables_and_order_puts_referenced_first() {
        // 1 <- 2 <- 3, 4 alone
        let (closure, ord) = fk_closure_and_order(&[1, 2, 3, 4], &[(2, 1), (3, 2)]);
        assert_eq!(closure[&1], BTreeSet::from([1, 2, 3]));
        assert_eq!(closure[&3], BTreeSet::from([3]));
        assert!(ord[&1] < ord[&2] && ord[&2] < ord[&3]);
        assert_eq!(ord[&4], 0);
        // a cycle terminates
        let (_, ord) = fk_closure_and_order(&[1, 2], &[(1, 2), (2, 1)]);
        assert_eq!(ord.len(), 2);
    }
}
