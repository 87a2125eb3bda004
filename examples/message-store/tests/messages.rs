//! Posting, editing, history, search, reactions, attachments, mentions,
//! threads, read marks, pins and tags.

mod common;

use common::{BOT, LOBBY, acme, db, store};
use message_store::StoreError;

#[test]
fn the_first_message_has_id_one() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!(s.post(a.general, a.alice, "hello", None).unwrap(), 1);
    assert_eq!(s.history(a.general, 10).unwrap().len(), 1);
}

#[test]
fn only_members_may_post() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert!(matches!(
        s.post(a.general, a.carol, "hi", None),
        Err(StoreError::Denied(_))
    ));
    assert_eq!(s.history(a.general, 10).unwrap(), vec![]);
}

#[test]
fn empty_messages_are_rejected() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    assert_eq!(
        s.post(a.general, a.alice, "", None).unwrap_err().sqlstate(),
        Some("23514")
    );
}

#[test]
fn history_is_oldest_first_and_limited_to_the_latest() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    for i in 1..=5 {
        s.post(a.general, a.alice, &format!("m{i}"), None).unwrap();
    }
    let bodies: Vec<String> = s
        .history(a.general, 3)
        .unwrap()
        .into_iter()
        .map(|m| m.body)
        .collect();
    assert_eq!(bodies, ["m3", "m4", "m5"]);
}

#[test]
fn history_is_per_channel() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.post(a.general, a.alice, "in general", None).unwrap();
    s.post(LOBBY, BOT, "in lobby", None).unwrap();
    assert_eq!(s.history(a.general, 10).unwrap().len(), 1);
    assert_eq!(s.history(LOBBY, 10).unwrap()[0].body, "in lobby");
}

#[test]
fn edits_keep_the_old_text() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.bob, "helo", None).unwrap();
    s.edit(m, "hello").unwrap();
    s.edit(m, "hello!").unwrap();
    assert_eq!(s.edits(m).unwrap(), ["helo", "hello"]);
    let shown = &s.history(a.general, 1).unwrap()[0];
    assert!(shown.edited);
    assert_eq!(shown.body, "hello!");
}

#[test]
fn editing_a_missing_message_fails() {
    let mut db = db();
    let mut s = store(&mut db);
    assert!(matches!(
        s.edit(1, "x"),
        Err(StoreError::NotFound("message", 1))
    ));
}

#[test]
fn deleted_messages_disappear_from_history() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m1 = s.post(a.general, a.alice, "keep", None).unwrap();
    let m2 = s.post(a.general, a.alice, "drop", None).unwrap();
    s.delete_message(m2).unwrap();
    assert_eq!(
        s.history(a.general, 10)
            .unwrap()
            .iter()
            .map(|m| m.id)
            .collect::<Vec<_>>(),
        [m1]
    );
    assert!(s.delete_message(m2).is_err(), "deleting twice fails");
}

#[test]
fn deleted_messages_cannot_be_edited() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.alice, "bye", None).unwrap();
    s.delete_message(m).unwrap();
    assert!(s.edit(m, "again").is_err());
}

#[test]
fn search_finds_words_in_visible_messages_of_the_tenant() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m1 = s
        .post(a.general, a.alice, "deploy the rocket", None)
        .unwrap();
    let m2 = s.post(a.general, a.bob, "rocket launched", None).unwrap();
    s.post(LOBBY, BOT, "rocket in another tenant", None)
        .unwrap();
    s.delete_message(m2).unwrap();
    assert_eq!(s.search(a.tenant, "rocket").unwrap(), [m1]);
    assert_eq!(s.search(a.tenant, "banana").unwrap(), Vec::<i64>::new());
}

#[test]
fn reactions_are_counted_per_emoji() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.alice, "ship it", None).unwrap();
    assert!(s.react(m, a.alice, "+1").unwrap());
    assert!(s.react(m, a.bob, "+1").unwrap());
    assert!(s.react(m, a.bob, "rocket").unwrap());
    assert!(!s.react(m, a.bob, "rocket").unwrap());
    assert_eq!(
        s.reactions(m).unwrap(),
        [("+1".to_owned(), 2), ("rocket".to_owned(), 1)]
    );
}

#[test]
fn reactions_need_an_existing_message() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(s.react(5, BOT, "+1").unwrap_err().sqlstate(), Some("23503"));
}

#[test]
fn attachments_are_hashed_by_the_database() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.alice, "see attached", None).unwrap();
    let sha = s.attach(m, "hello.txt", "text/plain", b"hello").unwrap();
    assert_eq!(
        sha,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    );
    assert_eq!(s.attachments(m).unwrap(), [("hello.txt".to_owned(), 5)]);
}

#[test]
fn the_same_file_cannot_be_attached_twice() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.alice, "dup", None).unwrap();
    s.attach(m, "a.bin", "application/octet-stream", &[1, 2, 3])
        .unwrap();
    let e = s
        .attach(m, "b.bin", "application/octet-stream", &[1, 2, 3])
        .unwrap_err();
    assert_eq!(e.sqlstate(), Some("23505"));
    assert_eq!(s.attachments(m).unwrap().len(), 1);
}

#[test]
fn mentions_are_found_in_the_text() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s
        .post(
            a.general,
            a.alice,
            "hey @bob and @carol, also @nobody!",
            None,
        )
        .unwrap();
    assert_eq!(s.mentions_of(a.bob).unwrap(), [m]);
    assert_eq!(s.mentions_of(a.carol).unwrap(), [m]);
    assert_eq!(s.mentions_of(a.alice).unwrap(), Vec::<i64>::new());
}

#[test]
fn mentions_stay_within_the_tenant() {
    let mut db = db();
    let mut s = store(&mut db);
    acme(&mut s);
    s.post(LOBBY, BOT, "ping @alice", None).unwrap();
    assert_eq!(s.mentions_of(2).unwrap(), Vec::<i64>::new());
}

#[test]
fn replies_are_counted_by_the_thread_trigger() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let root = s.post(a.general, a.alice, "question?", None).unwrap();
    s.post(a.general, a.bob, "answer 1", Some(root)).unwrap();
    s.post(a.general, a.alice, "answer 2", Some(root)).unwrap();
    assert_eq!(s.reply_count(root).unwrap(), 2);
    assert_eq!(s.history(a.general, 10).unwrap()[1].reply_to, Some(root));
}

#[test]
fn messages_without_replies_have_no_thread() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.alice, "alone", None).unwrap();
    assert_eq!(s.reply_count(m).unwrap(), 0);
}

#[test]
fn unread_counts_others_messages_after_the_read_mark() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m1 = s.post(a.general, a.alice, "1", None).unwrap();
    s.post(a.general, a.alice, "2", None).unwrap();
    s.post(a.general, a.bob, "mine", None).unwrap();
    assert_eq!(s.unread(a.general, a.bob).unwrap(), 2);
    s.mark_read(a.general, a.bob, m1).unwrap();
    assert_eq!(s.unread(a.general, a.bob).unwrap(), 1);
}

#[test]
fn read_marks_never_go_back() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m1 = s.post(a.general, a.alice, "1", None).unwrap();
    let m2 = s.post(a.general, a.alice, "2", None).unwrap();
    s.mark_read(a.general, a.bob, m2).unwrap();
    s.mark_read(a.general, a.bob, m1).unwrap();
    assert_eq!(s.unread(a.general, a.bob).unwrap(), 0);
}

#[test]
fn pins_are_listed_and_removable() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m1 = s.post(a.general, a.alice, "rules", None).unwrap();
    let m2 = s.post(a.general, a.alice, "faq", None).unwrap();
    s.pin(a.general, m1, a.alice).unwrap();
    s.pin(a.general, m2, a.bob).unwrap();
    s.pin(a.general, m2, a.bob).unwrap();
    assert_eq!(s.pins(a.general).unwrap(), [m1, m2]);
    assert!(s.unpin(a.general, m1).unwrap());
    assert_eq!(s.pins(a.general).unwrap(), [m2]);
}

#[test]
fn tags_are_created_on_first_use() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m1 = s.post(a.general, a.alice, "bug report", None).unwrap();
    let m2 = s.post(a.general, a.bob, "another bug", None).unwrap();
    s.tag(m1, a.tenant, "bug").unwrap();
    s.tag(m2, a.tenant, "bug").unwrap();
    s.tag(m2, a.tenant, "urgent").unwrap();
    assert_eq!(s.tagged(a.tenant, "bug").unwrap(), [m1, m2]);
    assert_eq!(s.tagged(a.tenant, "urgent").unwrap(), [m2]);
    assert_eq!(s.tagged(1, "bug").unwrap(), Vec::<i64>::new());
}

#[test]
fn posting_queues_deliveries_for_the_other_members() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.join(a.general, a.carol, "member").unwrap();
    let m = s.post(a.general, a.alice, "to all", None).unwrap();
    let due = s.due_deliveries(10).unwrap();
    assert_eq!(due, [(1, m, a.bob), (2, m, a.carol)]);
}

#[test]
fn blocked_authors_are_not_delivered() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.join(a.general, a.carol, "member").unwrap();
    s.block(a.carol, a.alice).unwrap();
    s.post(a.general, a.alice, "hello?", None).unwrap();
    let recipients: Vec<i64> = s
        .due_deliveries(10)
        .unwrap()
        .into_iter()
        .map(|d| d.2)
        .collect();
    assert_eq!(recipients, [a.bob]);
}

#[test]
fn deleting_a_tenant_removes_its_messages() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.post(a.general, a.alice, "soon gone", None).unwrap();
    s.delete_tenant(a.tenant).unwrap();
    assert_eq!(s.delivery_counts().unwrap(), (0, 0, 0));
    assert_eq!(s.search(a.tenant, "gone").unwrap(), Vec::<i64>::new());
}
