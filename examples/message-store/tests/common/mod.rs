//! Each test leases its own database: migrated, seeded, and private to
//! the test until it returns it (dropping the `TestDb`).

#![allow(dead_code)]

use gantry_db::TestDb;
use message_store::MessageStore;

/// The seeded `echo-system` tenant, its `echo-bot` user and `lobby`.
pub const ECHO: i64 = 1;
pub const BOT: i64 = 1;
pub const LOBBY: i64 = 1;

/// A database of its own for this test.
pub fn db() -> TestDb {
    TestDb::checkout("messages").unwrap_or_else(|e| panic!("no test database: {e}"))
}

/// The store on the database's pooled connection.
pub fn store(db: &mut TestDb) -> MessageStore<'_> {
    MessageStore::new(db.client().expect("connection to the test database"))
}

/// A tenant `acme` with users alice (2), bob (3) and carol (4) and a
/// channel `general` (2) owned by alice with bob as member.
pub struct Acme {
    pub tenant: i64,
    pub alice: i64,
    pub bob: i64,
    pub carol: i64,
    pub general: i64,
}

pub fn acme(s: &mut MessageStore<'_>) -> Acme {
    let tenant = s.create_tenant("acme", "Acme").unwrap();
    let alice = s
        .create_user(tenant, "alice", "alice@acme.test", "Alice")
        .unwrap();
    let bob = s
        .create_user(tenant, "bob", "bob@acme.test", "Bob")
        .unwrap();
    let carol = s
        .create_user(tenant, "carol", "carol@acme.test", "Carol")
        .unwrap();
    let general = s
        .create_channel(tenant, "general", "Everything", false, alice)
        .unwrap();
    s.join(general, bob, "member").unwrap();
    Acme {
        tenant,
        alice,
        bob,
        carol,
        general,
    }
}
