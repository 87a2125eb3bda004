//! The daemon as a process: console output, configuration, log file and
//! socket handling. Every test starts its own server.

mod support;

use std::fs;
use std::os::unix::net::UnixListener;

use support::{LineConn, ServerBuilder, ServerProcess, TempDir, run_to_exit};

#[test]
fn console_has_one_line_at_start_and_one_at_stop() {
    let mut server = ServerProcess::start();
    let ready = server.wait_stdout_lines(1);
    assert_eq!(
        ready,
        [format!(
            "echo-server listening on {}",
            server.socket().display()
        )]
    );
    LineConn::connect(server.socket()).request("hello");
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let stdout = server.stdout();
    assert_eq!(stdout.len(), 2, "{stdout:?}");
    assert!(
        stdout[1].starts_with("echo-server stopped on SIGTERM"),
        "{stdout:?}"
    );
}

#[test]
fn socket_path_from_env() {
    let dir = TempDir::new("env-socket");
    let socket = dir.join("from-env.sock");
    let server = ServerBuilder::new(&socket).socket_via_env().start();
    assert_eq!(LineConn::connect(&socket).request("via env"), "via env");
    drop(server);
}

#[test]
fn socket_flag_wins_over_env() {
    let dir = TempDir::new("flag-socket");
    let flag = dir.join("flag.sock");
    let env = dir.join("env.sock");
    let _server = ServerBuilder::new(&flag).env("ECHO_SOCKET", &env).start();
    assert_eq!(LineConn::connect(&flag).request("via flag"), "via flag");
    assert!(!env.exists());
}

#[test]
fn debug_log_goes_to_log_file() {
    let dir = TempDir::new("log-file");
    let log = dir.join("echo.log");
    let mut server = ServerBuilder::new(dir.join("echo.sock"))
        .arg("--log-file")
        .arg(&log)
        .start();
    LineConn::connect(server.socket()).request("log me");
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    let text = fs::read_to_string(&log).unwrap();
    // The readiness probe of the test harness is a connection too.
    for expected in [
        "listening on",
        ": accepted",
        "6 bytes in, 6 bytes out",
        "stopped after",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from log:\n{text}"
        );
    }
    // Debug details stay out of the console.
    assert_eq!(server.stdout().len(), 2);
}

#[test]
fn log_file_from_env() {
    let dir = TempDir::new("log-env");
    let log = dir.join("env.log");
    let mut server = ServerBuilder::new(dir.join("echo.sock"))
        .env("ECHO_LOG", &log)
        .start();
    server.signal(libc::SIGINT);
    assert!(server.wait_exit().success());
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("listening on"), "{text}");
}

#[test]
fn refuses_socket_already_in_use() {
    let server = ServerProcess::start();
    let (status, stdout, stderr) = run_to_exit(ServerBuilder::new(server.socket()));
    assert_eq!(status.code(), Some(1));
    assert!(stdout.is_empty(), "{stdout:?}");
    assert!(
        stderr.join("\n").contains("already listening"),
        "{stderr:?}"
    );
    // The first server keeps its socket and keeps serving.
    assert_eq!(
        LineConn::connect(server.socket()).request("still mine"),
        "still mine"
    );
}

#[test]
fn replaces_stale_socket_file() {
    let dir = TempDir::new("stale");
    let socket = dir.join("echo.sock");
    // A socket file nobody listens on, as left by a killed server.
    drop(UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    let _server = ServerBuilder::new(&socket).start();
    assert_eq!(LineConn::connect(&socket).request("fresh"), "fresh");
}

#[test]
fn refuses_to_replace_a_regular_file() {
    let dir = TempDir::new("regular-file");
    let path = dir.join("not-a-socket");
    fs::write(&path, "precious").unwrap();
    let (status, _, stderr) = run_to_exit(ServerBuilder::new(&path));
    assert_eq!(status.code(), Some(1));
    assert!(stderr.join("\n").contains("not a socket"), "{stderr:?}");
    assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
}

#[test]
fn missing_socket_is_a_usage_error() {
    let (status, stdout, stderr) = run_to_exit(ServerBuilder::new("").socket_via_env());
    assert_eq!(status.code(), Some(2));
    assert!(stdout.is_empty(), "{stdout:?}");
    assert!(stderr.join("\n").contains("ECHO_SOCKET"), "{stderr:?}");
}
