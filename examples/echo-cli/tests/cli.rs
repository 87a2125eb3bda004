//! The echo-cli binary against an echo server running inside the test
//! process.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::{self, JoinHandle};

use echo_server::{Logger, Server, Shutdown, Stats};

const CLI: &str = env!("CARGO_BIN_EXE_echo-cli");

/// An echo server on a thread of this process, in its own temporary
/// directory. Dropping it stops the server and removes the directory.
struct InProcessServer {
    dir: PathBuf,
    socket: PathBuf,
    shutdown: Shutdown,
    thread: Option<JoinHandle<io::Result<Stats>>>,
}

impl InProcessServer {
    fn start() -> InProcessServer {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        // Unix socket paths are limited to about 100 bytes.
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > 40 {
            base = PathBuf::from("/tmp");
        }
        let dir = base.join(format!(
            "echo-cli-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("echo.sock");
        // Bound before the thread starts: clients can connect at once.
        let server = Server::bind(&socket).unwrap();
        let shutdown = Shutdown::new().unwrap();
        let thread = {
            let shutdown = shutdown.clone();
            thread::spawn(move || server.run(&shutdown, &Logger::disabled()))
        };
        InProcessServer {
            dir,
            socket,
            shutdown,
            thread: Some(thread),
        }
    }

    fn socket(&self) -> &Path {
        &self.socket
    }

    /// Stops the server and returns what it did.
    fn stop(mut self) -> Stats {
        self.halt().expect("server thread").expect("server run")
    }

    fn halt(&mut self) -> Option<io::Result<Stats>> {
        self.shutdown.trigger();
        self.thread.take().and_then(|thread| thread.join().ok())
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        self.halt();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn cli(args: &[&str], socket_env: Option<&Path>) -> Output {
    let mut command = Command::new(CLI);
    command.args(args).env_remove("ECHO_SOCKET");
    if let Some(socket) = socket_env {
        command.env("ECHO_SOCKET", socket);
    }
    command.output().expect("running echo-cli")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn cli_prints_one_reply_per_message() {
    let server = InProcessServer::start();
    let socket = server.socket().to_str().unwrap().to_owned();
    let output = cli(&["--socket", &socket, "hello", "PING", "two words"], None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "hello\nPONG\ntwo words\n");
    // One connection for the whole run.
    assert_eq!(server.stop().connections, 1);
}

#[test]
fn cli_reads_socket_from_env() {
    let server = InProcessServer::start();
    let output = cli(&["--", "-dash-first"], Some(server.socket()));
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output), "-dash-first\n");
}

#[test]
fn cli_reports_missing_server() {
    let server = InProcessServer::start();
    let missing = server.socket().with_file_name("missing.sock");
    let output = cli(&["--socket", missing.to_str().unwrap(), "hello"], None);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).is_empty());
    let err = stderr(&output);
    assert!(
        err.contains("cannot connect") && err.contains("missing.sock"),
        "{err}"
    );
}

#[test]
fn cli_rejects_multiline_message() {
    let server = InProcessServer::start();
    let socket = server.socket().to_str().unwrap().to_owned();
    let output = cli(&["--socket", &socket, "fine", "not\nfine"], None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "fine\n");
    assert!(
        stderr(&output).contains("line breaks"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn cli_usage_errors_exit_2() {
    let output = cli(&["hello"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("ECHO_SOCKET"),
        "{}",
        stderr(&output)
    );
    let output = cli(&["--socket", "/tmp/x.sock"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("usage:"), "{}", stderr(&output));
}
