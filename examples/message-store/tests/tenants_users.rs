//! Tenants, users, profiles, settings, sessions and blocks.

mod common;

use common::{BOT, ECHO, acme, db, store};
use message_store::MessageStore;

#[test]
fn the_seed_is_there() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(s.count_tenants().unwrap(), 1);
    assert_eq!(s.tenant_by_slug("echo-system").unwrap(), Some(ECHO));
    assert_eq!(s.user_by_handle(ECHO, "echo-bot").unwrap().unwrap().id, BOT);
}

#[test]
fn creating_a_tenant_gives_the_next_id() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(s.create_tenant("acme", "Acme").unwrap(), 2);
    assert_eq!(s.count_tenants().unwrap(), 2);
}

#[test]
fn tenant_slugs_are_unique() {
    let mut db = db();
    let mut s = store(&mut db);
    s.create_tenant("acme", "Acme").unwrap();
    let e = s.create_tenant("acme", "Acme again").unwrap_err();
    assert_eq!(e.sqlstate(), Some("23505"));
}

#[test]
fn tenant_slugs_are_lowercase_words() {
    let mut db = db();
    let mut s = store(&mut db);
    let e = s.create_tenant("Not A Slug", "x").unwrap_err();
    assert_eq!(e.sqlstate(), Some("23514"));
    assert_eq!(s.count_tenants().unwrap(), 1);
}

#[test]
fn looking_up_a_missing_tenant_finds_nothing() {
    let mut db = db();
    let mut s = store(&mut db);
    s.create_tenant("present", "Present").unwrap();
    assert_eq!(s.tenant_by_slug("absent").unwrap(), None);
    assert_eq!(s.tenant_by_slug("present").unwrap(), Some(2));
}

#[test]
fn deleting_a_tenant_removes_its_users_and_channels() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.delete_tenant(a.tenant).unwrap();
    assert_eq!(s.count_users(a.tenant).unwrap(), 0);
    assert_eq!(s.channels(a.tenant).unwrap(), vec![]);
    assert_eq!(s.count_tenants().unwrap(), 1);
}

#[test]
fn deleting_a_missing_tenant_is_an_error() {
    let mut db = db();
    let mut s = store(&mut db);
    assert!(matches!(
        s.delete_tenant(42),
        Err(message_store::StoreError::NotFound("tenant", 42))
    ));
}

#[test]
fn users_get_sequential_ids_after_the_bot() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!((a.alice, a.bob, a.carol), (2, 3, 4));
    assert_eq!(s.count_users(a.tenant).unwrap(), 3);
    assert_eq!(s.count_users(ECHO).unwrap(), 1);
}

#[test]
fn emails_are_unique_across_tenants() {
    let mut db = db();
    let mut s = store(&mut db);
    let t1 = s.create_tenant("one", "One").unwrap();
    let t2 = s.create_tenant("two", "Two").unwrap();
    s.create_user(t1, "sam", "sam@example.test", "Sam").unwrap();
    let e = s
        .create_user(t2, "sam", "sam@example.test", "Sam")
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("23505"));
}

#[test]
fn handles_are_unique_per_tenant_only() {
    let mut db = db();
    let mut s = store(&mut db);
    let t1 = s.create_tenant("one", "One").unwrap();
    let t2 = s.create_tenant("two", "Two").unwrap();
    s.create_user(t1, "sam", "sam1@example.test", "Sam")
        .unwrap();
    s.create_user(t2, "sam", "sam2@example.test", "Sam")
        .unwrap();
    let e = s
        .create_user(t1, "sam", "sam3@example.test", "Sam")
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("23505"));
    assert_eq!(s.count_users(t1).unwrap() + s.count_users(t2).unwrap(), 2);
}

#[test]
fn users_need_an_existing_tenant() {
    let mut db = db();
    let mut s = store(&mut db);
    let e = s
        .create_user(99, "ghost", "ghost@example.test", "Ghost")
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("23503"));
}

#[test]
fn renaming_a_user_changes_the_display_name() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.rename_user(a.bob, "Robert").unwrap();
    assert_eq!(
        s.user_by_handle(a.tenant, "bob")
            .unwrap()
            .unwrap()
            .display_name,
        "Robert"
    );
}

#[test]
fn renaming_a_missing_user_fails() {
    let mut db = db();
    let mut s = store(&mut db);
    acme(&mut s);
    assert!(s.rename_user(5, "Nobody").is_err());
}

#[test]
fn new_users_have_a_default_profile() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!(
        s.profile(a.alice).unwrap(),
        Some((String::new(), "en".to_owned()))
    );
    assert_eq!(
        s.profile(BOT).unwrap(),
        None,
        "the seeded bot has no profile"
    );
}

#[test]
fn profiles_can_be_updated() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.set_profile(a.alice, "Engineer", "de").unwrap();
    s.set_profile(BOT, "I echo", "en").unwrap();
    assert_eq!(
        s.profile(a.alice).unwrap(),
        Some(("Engineer".into(), "de".into()))
    );
    assert_eq!(
        s.profile(BOT).unwrap(),
        Some(("I echo".into(), "en".into()))
    );
}

#[test]
fn settings_are_upserted() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.set_setting(a.alice, "theme", "dark").unwrap();
    s.set_setting(a.alice, "theme", "light").unwrap();
    s.set_setting(a.alice, "lang", "fr").unwrap();
    assert_eq!(
        s.setting(a.alice, "theme").unwrap().as_deref(),
        Some("light")
    );
    assert_eq!(
        s.settings(a.alice).unwrap(),
        vec![
            ("lang".into(), "fr".into()),
            ("theme".into(), "light".into())
        ]
    );
}

#[test]
fn settings_are_per_user() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.set_setting(a.alice, "theme", "dark").unwrap();
    assert_eq!(s.setting(a.bob, "theme").unwrap(), None);
    assert_eq!(s.settings(a.bob).unwrap().len(), 0);
}

#[test]
fn sessions_resolve_to_their_user() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.open_session(a.alice, "tok-alice", 3600).unwrap();
    assert_eq!(s.session_user("tok-alice").unwrap(), Some(a.alice));
    assert_eq!(s.session_user("tok-unknown").unwrap(), None);
}

#[test]
fn session_tokens_are_unique() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.open_session(a.alice, "tok", 60).unwrap();
    assert_eq!(
        s.open_session(a.bob, "tok", 60).unwrap_err().sqlstate(),
        Some("23505")
    );
}

#[test]
fn expired_sessions_are_invalid_and_purged() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.open_session(a.alice, "old", -10).unwrap();
    s.open_session(a.alice, "new", 600).unwrap();
    assert_eq!(s.session_user("old").unwrap(), None);
    assert_eq!(s.purge_sessions().unwrap(), 1);
    assert_eq!(s.session_user("new").unwrap(), Some(a.alice));
}

#[test]
fn closing_a_session_ends_it_once() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.open_session(a.bob, "bye", 600).unwrap();
    assert!(s.close_session("bye").unwrap());
    assert!(!s.close_session("bye").unwrap());
}

#[test]
fn blocking_is_one_way_and_idempotent() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.block(a.alice, a.bob).unwrap();
    s.block(a.alice, a.bob).unwrap();
    assert!(s.is_blocked(a.alice, a.bob).unwrap());
    assert!(!s.is_blocked(a.bob, a.alice).unwrap());
}

#[test]
fn nobody_can_block_themselves() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!(
        s.block(a.carol, a.carol).unwrap_err().sqlstate(),
        Some("23514")
    );
}

#[test]
fn a_store_can_own_its_connection_from_the_url() {
    let db = db();
    let mut s = MessageStore::connect(db.url()).unwrap();
    s.create_tenant("via-url", "Via URL").unwrap();
    assert_eq!(s.tenant_by_slug("via-url").unwrap(), Some(2));
    assert_eq!(s.count_tenants().unwrap(), 2);
}
