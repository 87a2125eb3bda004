//! Graceful shutdown on signals. Each test stops its server, so each needs a
//! dedicated one: the test runner's per-test fixture provides it through
//! `ECHO_PRIVATE_SOCKET` and `ECHO_SERVER_PID`; otherwise the test starts
//! its own.

mod support;

use std::io;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use support::{LineConn, ServerProcess, send_signal, wait_until_removed};

/// The server under test.
enum Target {
    /// Started by the test runner for this test.
    Fixture { socket: PathBuf, pid: u32 },
    /// Started by this test.
    Own(ServerProcess),
}

impl Target {
    fn get() -> Target {
        let socket = std::env::var_os("ECHO_PRIVATE_SOCKET").filter(|s| !s.is_empty());
        let pid = std::env::var("ECHO_SERVER_PID").ok();
        match (socket, pid) {
            (Some(socket), Some(pid)) => Target::Fixture {
                socket: socket.into(),
                pid: pid.parse().expect("ECHO_SERVER_PID is a process id"),
            },
            _ => Target::Own(ServerProcess::start()),
        }
    }

    fn socket(&self) -> PathBuf {
        match self {
            Target::Fixture { socket, .. } => socket.clone(),
            Target::Own(server) => server.socket().to_owned(),
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Target::Fixture { pid, .. } => *pid,
            Target::Own(server) => server.pid(),
        }
    }
}

/// Connects a client, stops the server with `signal` and checks that the
/// client is disconnected, the socket file removed and (for a server this
/// test started) the exit clean.
fn check_graceful_stop(signal: i32, name: &str) {
    let mut target = Target::get();
    let socket = target.socket();
    let mut client = LineConn::connect(&socket);
    assert_eq!(client.request("before shutdown"), "before shutdown");

    send_signal(target.pid(), signal);

    wait_until_removed(&socket);
    assert_eq!(
        client.read_line(),
        None,
        "the server should close open connections"
    );
    let err = UnixStream::connect(&socket).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    if let Target::Own(server) = &mut target {
        let status = server.wait_exit();
        assert!(status.success(), "exit status {status}");
        let stdout = server.stdout();
        let last = stdout.last().map(String::as_str).unwrap_or_default();
        assert!(
            last.starts_with(&format!("echo-server stopped on {name}")),
            "{stdout:?}"
        );
    }
}

#[test]
fn sigterm_closes_clients_and_removes_socket() {
    check_graceful_stop(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sigint_closes_clients_and_removes_socket() {
    check_graceful_stop(libc::SIGINT, "SIGINT");
}
