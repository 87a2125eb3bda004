//! The echo-client library against a real server.

mod support;

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use echo_client::{Backoff, Client, KeepAlive, Options};
use support::{ServerBuilder, TempDir, shared_server};

#[test]
fn client_send_and_ping() {
    let server = shared_server();
    let mut client = Client::connect(server.socket()).unwrap();
    assert_eq!(client.send("from the client").unwrap(), "from the client");
    assert_eq!(client.send("PING").unwrap(), "PONG");
    let rtt = client.ping().unwrap();
    assert!(rtt < Duration::from_secs(5), "round trip took {rtt:?}");
    assert_eq!(client.reconnects(), 0);
}

#[test]
fn client_rejects_multiline_message_and_stays_usable() {
    let server = shared_server();
    let mut client = Client::connect(server.socket()).unwrap();
    let err = client.send("first\nsecond").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(client.send("single").unwrap(), "single");
}

#[test]
fn client_connect_fails_without_server() {
    let dir = TempDir::new("no-server");
    let err = Client::connect(dir.join("missing.sock")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(err.to_string().contains("missing.sock"), "{err}");
}

#[test]
fn keepalive_pings_every_interval_slow() {
    let server = shared_server();
    let client = Client::connect(server.socket()).unwrap();
    let keepalive = KeepAlive::start(client, Duration::from_millis(250));
    thread::sleep(Duration::from_millis(1400));
    let pings = keepalive.pings();
    // About five pings are due; allow for a busy machine, but not for a
    // keep-alive that never pings or pings far too often.
    assert!(
        (3..=6).contains(&pings),
        "{pings} pings in 1.4 s at a 250 ms interval"
    );
    assert_eq!(keepalive.failures(), 0);
    assert_eq!(keepalive.send("between pings").unwrap(), "between pings");
    let mut client = keepalive.stop();
    assert_eq!(client.send("after stop").unwrap(), "after stop");
    assert_eq!(client.reconnects(), 0);
}

#[test]
fn client_reconnects_after_server_restart_slow() {
    // This test restarts its server, so it always uses a private one.
    let dir = TempDir::new("restart");
    let socket = dir.join("echo.sock");
    let mut first = ServerBuilder::new(&socket).start();
    let options = Options {
        backoff: Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(400),
            multiplier: 2,
        },
        max_reconnect_attempts: 40,
        ..Options::default()
    };
    let mut client = Client::connect_with(&socket, options).unwrap();
    assert_eq!(client.send("before").unwrap(), "before");

    first.signal(libc::SIGTERM);
    assert!(first.wait_exit().success());
    let down_at = Instant::now();
    let restart = {
        let socket = socket.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(1000));
            ServerBuilder::new(socket).start()
        })
    };

    // The connection is gone; the client retries with backoff until the
    // new server is up.
    let reply = client.send("after restart");
    let second = restart.join().expect("restarting the server");
    assert_eq!(reply.unwrap(), "after restart");
    assert!(down_at.elapsed() >= Duration::from_millis(1000));
    assert_eq!(client.reconnects(), 1);
    assert!(client.is_connected());
    drop(second);
}
