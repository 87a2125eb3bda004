//! Channels, membership, topics and statistics.

mod common;

use common::{BOT, ECHO, LOBBY, acme, db, store};

#[test]
fn the_lobby_is_seeded_with_the_bot_as_owner() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(s.channels(ECHO).unwrap(), vec![(LOBBY, "lobby".to_owned())]);
    assert_eq!(s.members(LOBBY).unwrap(), vec![BOT]);
    assert_eq!(s.role(LOBBY, BOT).unwrap().as_deref(), Some("owner"));
}

#[test]
fn a_new_channel_gets_id_two_and_its_creator_as_owner() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!(a.general, 2);
    assert_eq!(
        s.role(a.general, a.alice).unwrap().as_deref(),
        Some("owner")
    );
    assert_eq!(s.members(a.general).unwrap(), vec![a.alice, a.bob]);
}

#[test]
fn channel_names_are_unique_per_tenant() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let e = s
        .create_channel(a.tenant, "general", "", false, a.bob)
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("23505"));
    // The same name in another tenant is fine.
    s.create_channel(ECHO, "general", "", false, BOT).unwrap();
}

#[test]
fn channels_are_listed_by_name() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.create_channel(a.tenant, "zeta", "", false, a.alice)
        .unwrap();
    s.create_channel(a.tenant, "alpha", "", true, a.bob)
        .unwrap();
    let names: Vec<String> = s
        .channels(a.tenant)
        .unwrap()
        .into_iter()
        .map(|c| c.1)
        .collect();
    assert_eq!(names, ["alpha", "general", "zeta"]);
}

#[test]
fn archived_channels_are_hidden() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let old = s
        .create_channel(a.tenant, "old", "", false, a.alice)
        .unwrap();
    s.archive_channel(old).unwrap();
    assert_eq!(s.channels(a.tenant).unwrap().len(), 1);
}

#[test]
fn archiving_a_missing_channel_fails() {
    let mut db = db();
    let mut s = store(&mut db);
    assert!(s.archive_channel(7).is_err());
}

#[test]
fn joining_twice_updates_the_role() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.join(a.general, a.bob, "moderator").unwrap();
    assert_eq!(
        s.role(a.general, a.bob).unwrap().as_deref(),
        Some("moderator")
    );
    assert_eq!(s.members(a.general).unwrap().len(), 2);
}

#[test]
fn roles_are_checked() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!(
        s.join(a.general, a.carol, "emperor")
            .unwrap_err()
            .sqlstate(),
        Some("23514")
    );
    assert_eq!(s.members(a.general).unwrap().len(), 2);
}

#[test]
fn leaving_removes_the_member_once() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert!(s.leave(a.general, a.bob).unwrap());
    assert!(!s.leave(a.general, a.bob).unwrap());
    assert_eq!(s.members(a.general).unwrap(), vec![a.alice]);
}

#[test]
fn topics_can_change() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.set_topic(a.general, "Releases").unwrap();
    s.set_topic(LOBBY, "Welcome").unwrap();
    let (members, messages) = s.channel_stats(a.general).unwrap();
    assert_eq!((members, messages), (2, 0));
}

#[test]
fn stats_count_members_and_visible_messages() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.join(a.general, a.carol, "member").unwrap();
    let m1 = s.post(a.general, a.alice, "one", None).unwrap();
    s.post(a.general, a.bob, "two", None).unwrap();
    s.delete_message(m1).unwrap();
    assert_eq!(s.channel_stats(a.general).unwrap(), (3, 1));
}

#[test]
fn the_lobby_stats_start_at_one_member() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(s.channel_stats(LOBBY).unwrap(), (1, 0));
    s.post(LOBBY, BOT, "hello", None).unwrap();
    assert_eq!(s.channel_stats(LOBBY).unwrap(), (1, 1));
}

#[test]
fn deleting_a_user_removes_memberships() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.delete_tenant(a.tenant).unwrap();
    assert_eq!(s.members(a.general).unwrap(), Vec::<i64>::new());
}

#[test]
fn private_channels_are_still_listed_for_the_tenant() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let secret = s
        .create_channel(a.tenant, "secret", "shh", true, a.carol)
        .unwrap();
    assert_eq!(secret, 3);
    assert!(
        s.channels(a.tenant)
            .unwrap()
            .contains(&(secret, "secret".to_owned()))
    );
    assert_eq!(s.members(secret).unwrap(), vec![a.carol]);
}

#[test]
fn webhooks_are_per_channel_and_unique_by_url() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let h = s
        .add_webhook(a.general, "https://hooks.test/a", "s1")
        .unwrap();
    assert_eq!(h, 1);
    assert_eq!(
        s.add_webhook(a.general, "https://hooks.test/a", "s2")
            .unwrap_err()
            .sqlstate(),
        Some("23505")
    );
    s.add_webhook(LOBBY, "https://hooks.test/a", "s3").unwrap();
    assert_eq!(
        s.webhooks(a.general).unwrap(),
        vec![(h, "https://hooks.test/a".to_owned())]
    );
}

#[test]
fn disabled_webhooks_are_not_listed() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let h1 = s
        .add_webhook(a.general, "https://hooks.test/1", "x")
        .unwrap();
    let h2 = s
        .add_webhook(a.general, "https://hooks.test/2", "x")
        .unwrap();
    s.disable_webhook(h1).unwrap();
    assert_eq!(
        s.webhooks(a.general).unwrap(),
        vec![(h2, "https://hooks.test/2".to_owned())]
    );
}
