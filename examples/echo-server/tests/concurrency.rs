//! Many clients at once against the shared server.

mod support;

use std::thread;

use support::{LineConn, shared_server};

#[test]
fn many_clients_concurrently() {
    let server = shared_server();
    let threads: Vec<_> = (0..16)
        .map(|client| {
            let socket = server.socket().to_owned();
            thread::spawn(move || {
                let mut conn = LineConn::connect(&socket);
                for i in 0..100 {
                    let line = format!("client {client} message {i}");
                    assert_eq!(conn.request(&line), line);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread panicked");
    }
}

#[test]
fn stalled_client_does_not_block_others() {
    let server = shared_server();
    let mut stalled = LineConn::connect(server.socket());
    // Half a line: the server waits for the rest on this connection only.
    stalled.write(b"never finis");
    for i in 0..5 {
        let mut other = LineConn::connect(server.socket());
        assert_eq!(other.request(&format!("other {i}")), format!("other {i}"));
    }
    stalled.write(b"hed\n");
    assert_eq!(stalled.read_line().as_deref(), Some("never finished"));
}

#[test]
fn abrupt_disconnects_do_not_affect_other_clients() {
    let server = shared_server();
    let mut steady = LineConn::connect(server.socket());
    for i in 0..10 {
        // Send lines and vanish without reading the replies.
        let mut rude = LineConn::connect(server.socket());
        rude.write(b"one\ntwo\nthree\n");
        drop(rude);
        assert_eq!(
            steady.request(&format!("steady {i}")),
            format!("steady {i}")
        );
    }
}
