//! The echo server's traffic, the delivery queue, webhooks, rate limits
//! and the audit log.

mod common;

use common::{BOT, ECHO, LOBBY, acme, db, store};

#[test]
fn echo_requests_are_recorded_per_session() {
    let mut db = db();
    let mut s = store(&mut db);
    s.open_session(BOT, "echo-1", 600).unwrap();
    let r1 = s.echo_request("echo-1", b"ping").unwrap();
    let r2 = s.echo_request("echo-1", b"pong").unwrap();
    assert_eq!((r1, r2), (1, 2));
    assert_eq!(s.echo_stats("echo-1").unwrap(), (2, 0, None));
}

#[test]
fn echo_requests_need_a_session() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(
        s.echo_request("nope", b"x").unwrap_err().sqlstate(),
        Some("23503")
    );
}

#[test]
fn echo_stats_average_the_latency_of_answers() {
    let mut db = db();
    let mut s = store(&mut db);
    s.open_session(BOT, "echo-2", 600).unwrap();
    let r1 = s.echo_request("echo-2", b"a").unwrap();
    let r2 = s.echo_request("echo-2", b"b").unwrap();
    s.echo_request("echo-2", b"c").unwrap();
    s.echo_response(r1, b"a", 100).unwrap();
    s.echo_response(r2, b"b", 300).unwrap();
    assert_eq!(s.echo_stats("echo-2").unwrap(), (3, 2, Some(200.0)));
}

#[test]
fn a_request_has_one_answer() {
    let mut db = db();
    let mut s = store(&mut db);
    s.open_session(BOT, "echo-3", 600).unwrap();
    let r = s.echo_request("echo-3", b"once").unwrap();
    s.echo_response(r, b"once", 5).unwrap();
    assert_eq!(
        s.echo_response(r, b"twice", 5).unwrap_err().sqlstate(),
        Some("23505")
    );
}

#[test]
fn negative_latencies_are_rejected() {
    let mut db = db();
    let mut s = store(&mut db);
    s.open_session(BOT, "echo-4", 600).unwrap();
    let r = s.echo_request("echo-4", b"t").unwrap();
    assert_eq!(
        s.echo_response(r, b"t", -1).unwrap_err().sqlstate(),
        Some("23514")
    );
}

#[test]
fn mismatching_echoes_are_found() {
    let mut db = db();
    let mut s = store(&mut db);
    s.open_session(BOT, "echo-5", 600).unwrap();
    let ok = s.echo_request("echo-5", b"same").unwrap();
    let bad = s.echo_request("echo-5", b"sent").unwrap();
    s.echo_response(ok, b"same", 1).unwrap();
    s.echo_response(bad, b"garbled", 1).unwrap();
    assert_eq!(s.echo_mismatches("echo-5").unwrap(), [bad]);
}

#[test]
fn closing_a_session_drops_its_traffic() {
    let mut db = db();
    let mut s = store(&mut db);
    s.open_session(BOT, "echo-6", 600).unwrap();
    s.echo_request("echo-6", b"x").unwrap();
    s.close_session("echo-6").unwrap();
    assert_eq!(s.echo_stats("echo-6").unwrap().0, 0);
}

#[test]
fn deliveries_are_marked_delivered() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.post(a.general, a.alice, "x", None).unwrap();
    let (id, _, _) = s.due_deliveries(1).unwrap()[0];
    s.delivered(id).unwrap();
    assert_eq!(s.delivery_counts().unwrap(), (0, 1, 0));
    assert_eq!(s.due_deliveries(10).unwrap(), vec![]);
}

#[test]
fn failed_deliveries_are_retried_later() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.post(a.general, a.alice, "x", None).unwrap();
    s.delivery_failed(1, 3600, 3).unwrap();
    assert_eq!(
        s.due_deliveries(10).unwrap(),
        vec![],
        "not due before the retry time"
    );
    assert_eq!(s.delivery_counts().unwrap(), (1, 0, 0));
}

#[test]
fn deliveries_give_up_after_max_attempts() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.post(a.general, a.alice, "x", None).unwrap();
    for _ in 0..3 {
        s.delivery_failed(1, 0, 3).unwrap();
    }
    assert_eq!(s.delivery_counts().unwrap(), (0, 0, 1));
}

#[test]
fn each_message_is_delivered_once_per_recipient() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    for i in 0..4 {
        s.post(a.general, a.alice, &format!("n{i}"), None).unwrap();
    }
    assert_eq!(s.delivery_counts().unwrap(), (4, 0, 0));
    assert_eq!(s.due_deliveries(2).unwrap().len(), 2);
}

#[test]
fn webhook_calls_give_a_success_rate() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    let m = s.post(a.general, a.alice, "hook me", None).unwrap();
    let h = s
        .add_webhook(a.general, "https://hooks.test/x", "k")
        .unwrap();
    assert_eq!(s.webhook_success_rate(h).unwrap(), None);
    for status in [200, 204, 500, 201] {
        s.record_webhook_call(h, m, status).unwrap();
    }
    assert_eq!(s.webhook_success_rate(h).unwrap(), Some(0.75));
}

#[test]
fn webhook_calls_need_a_message() {
    let mut db = db();
    let mut s = store(&mut db);
    let h = s.add_webhook(LOBBY, "https://hooks.test/y", "k").unwrap();
    assert_eq!(
        s.record_webhook_call(h, 1, 200).unwrap_err().sqlstate(),
        Some("23503")
    );
}

#[test]
fn rate_limits_count_hits_per_window() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(s.hit(BOT, "2024-01-01 10:00:00+00").unwrap(), 1);
    assert_eq!(s.hit(BOT, "2024-01-01 10:00:00+00").unwrap(), 2);
    assert_eq!(s.hit(BOT, "2024-01-01 10:01:00+00").unwrap(), 1);
}

#[test]
fn rate_limits_are_per_user() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    s.hit(a.alice, "2024-01-01 00:00:00+00").unwrap();
    assert_eq!(s.hit(a.bob, "2024-01-01 00:00:00+00").unwrap(), 1);
}

#[test]
fn the_audit_log_keeps_json_details() {
    let mut db = db();
    let mut s = store(&mut db);
    let e = s
        .audit(ECHO, Some(BOT), "login", r#"{"ip": "127.0.0.1"}"#)
        .unwrap();
    assert_eq!(e, 1);
    assert_eq!(
        s.audit_detail(e, "ip").unwrap().as_deref(),
        Some("127.0.0.1")
    );
    assert_eq!(s.audit_count(ECHO, "login").unwrap(), 1);
}

#[test]
fn audit_details_must_be_json() {
    let mut db = db();
    let mut s = store(&mut db);
    assert_eq!(
        s.audit(ECHO, None, "oops", "{not json")
            .unwrap_err()
            .sqlstate(),
        Some("22P02")
    );
    assert_eq!(s.audit_count(ECHO, "oops").unwrap(), 0);
}

#[test]
fn audit_counts_are_per_tenant_and_action() {
    let mut db = db();
    let mut s = store(&mut db);
    let a = acme(&mut s);
    for _ in 0..3 {
        s.audit(a.tenant, Some(a.alice), "post", "{}").unwrap();
    }
    s.audit(ECHO, None, "post", "{}").unwrap();
    assert_eq!(s.audit_count(a.tenant, "post").unwrap(), 3);
    assert_eq!(s.audit_count(ECHO, "post").unwrap(), 1);
}
