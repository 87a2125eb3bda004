//! The line protocol, over raw socket connections to the shared server.

mod support;

use support::{LineConn, shared_server};

#[test]
fn echoes_a_line() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    assert_eq!(conn.request("hello, echo"), "hello, echo");
}

#[test]
fn ping_answers_pong() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    assert_eq!(conn.request("PING"), "PONG");
}

#[test]
fn only_exact_ping_is_special() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    for line in ["ping", "PING ", " PING", "PINGPING", "PONG"] {
        assert_eq!(conn.request(line), line);
    }
}

#[test]
fn many_lines_on_one_connection() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    for i in 0..200 {
        let line = format!("line {i}");
        assert_eq!(conn.request(&line), line);
    }
}

#[test]
fn pipelined_lines_are_answered_in_order() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    let batch: String = (0..50).map(|i| format!("msg-{i}\n")).collect();
    conn.write(batch.as_bytes());
    for i in 0..50 {
        assert_eq!(
            conn.read_line().as_deref(),
            Some(format!("msg-{i}").as_str())
        );
    }
}

#[test]
fn empty_line_is_echoed() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    assert_eq!(conn.request(""), "");
    assert_eq!(conn.request("after empty"), "after empty");
}

#[test]
fn crlf_line_endings_are_accepted() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    conn.write(b"windows\r\nPING\r\n");
    assert_eq!(conn.read_line().as_deref(), Some("windows"));
    assert_eq!(conn.read_line().as_deref(), Some("PONG"));
}

#[test]
fn utf8_round_trips() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    for line in ["grüße", "日本語のテキスト", "emoji 🚀 and tabs\tinside"] {
        assert_eq!(conn.request(line), line);
    }
}

#[test]
fn last_line_without_newline_is_answered() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    conn.write(b"first\nunterminated");
    conn.finish();
    assert_eq!(conn.read_line().as_deref(), Some("first"));
    assert_eq!(conn.read_line().as_deref(), Some("unterminated"));
    assert_eq!(conn.read_line(), None, "the server closes after the client");
}

#[test]
fn longest_allowed_line_is_echoed() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    let line = "x".repeat(echo_server::MAX_LINE_LEN);
    assert_eq!(conn.request(&line), line);
}

#[test]
fn overlong_line_is_rejected_and_connection_closed() {
    let server = shared_server();
    let mut conn = LineConn::connect(server.socket());
    let line = "y".repeat(echo_server::MAX_LINE_LEN + 1);
    conn.write(format!("{line}\n").as_bytes());
    assert_eq!(
        conn.read_line().as_deref(),
        Some(echo_server::TOO_LONG_REPLY)
    );
    assert_eq!(conn.read_line(), None);
    // The server itself is fine.
    assert_eq!(
        LineConn::connect(server.socket()).request("still up"),
        "still up"
    );
}
