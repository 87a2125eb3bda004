//! Helpers shared by the echo-server integration tests: temporary
//! directories, server processes that are always killed and reaped, the
//! server shared by the tests of one process, and raw protocol connections.
//!
//! Tests use [`shared_server`]: the server named by `ECHO_SOCKET` when set
//! (a fixture of the test runner started it), otherwise a private server
//! started from this package's binary and shared by the tests of the process
//! that are running at the same time.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The server binary of this package.
pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_echo-server");

/// How long a server may take to start accepting connections.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read and write timeout of test connections, so a broken server fails a
/// test instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a server may take to exit after being asked to.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a new, empty directory whose name starts with `label`.
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let name = format!(
            "echo-{label}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        // Unix socket paths are limited to about 100 bytes: prefer a short
        // base directory when TMPDIR is long.
        let mut base = std::env::temp_dir();
        if base.as_os_str().len() > 40 {
            base = PathBuf::from("/tmp");
        }
        let path = base.join(name);
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// How to start an `echo-server` process.
#[derive(Debug)]
pub struct ServerBuilder {
    socket: PathBuf,
    socket_via_env: bool,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
}

impl ServerBuilder {
    /// A server listening on `socket`, passed with `--socket`.
    pub fn new(socket: impl Into<PathBuf>) -> ServerBuilder {
        ServerBuilder {
            socket: socket.into(),
            socket_via_env: false,
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// Passes the socket path in `ECHO_SOCKET` instead of `--socket`.
    pub fn socket_via_env(mut self) -> ServerBuilder {
        self.socket_via_env = true;
        self
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> ServerBuilder {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// Sets an environment variable of the server.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> ServerBuilder {
        self.envs
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Starts the server and waits until its socket accepts connections.
    pub fn start(self) -> ServerProcess {
        let mut server = self.spawn();
        server.wait_ready();
        server
    }

    /// Starts the server without waiting for it.
    pub fn spawn(self) -> ServerProcess {
        let mut command = Command::new(SERVER_BIN);
        // The test process may itself have been given a server through these
        // variables; the child gets only what the test asks for.
        command.env_remove("ECHO_SOCKET").env_remove("ECHO_LOG");
        if self.socket_via_env {
            command.env("ECHO_SOCKET", &self.socket);
        } else {
            command.arg("--socket").arg(&self.socket);
        }
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {SERVER_BIN}: {e}"));
        let output = Arc::new(Mutex::new(Captured::default()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let readers = vec![
            collect_lines(stdout, Arc::clone(&output), |c| &mut c.stdout),
            collect_lines(stderr, Arc::clone(&output), |c| &mut c.stderr),
        ];
        ServerProcess {
            child,
            socket: self.socket,
            output,
            readers,
            dir: None,
        }
    }
}

#[derive(Debug, Default)]
struct Captured {
    stdout: Vec<String>,
    stderr: Vec<String>,
}

fn collect_lines(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<Captured>>,
    field: fn(&mut Captured) -> &mut Vec<String>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            field(&mut output.lock().unwrap_or_else(PoisonError::into_inner)).push(line);
        }
    })
}

/// A running `echo-server` child process. Dropping it kills the process (if
/// it is still running) and reaps it, also when a test panics.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    socket: PathBuf,
    output: Arc<Mutex<Captured>>,
    readers: Vec<JoinHandle<()>>,
    dir: Option<TempDir>,
}

impl ServerProcess {
    /// Starts a server on a socket in a new temporary directory, which is
    /// removed when the server is dropped.
    pub fn start() -> ServerProcess {
        let dir = TempDir::new("server");
        let mut server = ServerBuilder::new(dir.join("echo.sock")).start();
        server.dir = Some(dir);
        server
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        send_signal(self.pid(), signal);
    }

    /// Waits until the socket accepts connections; panics (with the
    /// server's stderr) if the server exits first or takes too long.
    pub fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.join_readers();
                panic!(
                    "echo-server exited with {status} before accepting connections; stderr:\n{}",
                    self.stderr().join("\n")
                );
            }
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "echo-server did not accept connections on {} within {READY_TIMEOUT:?}",
                self.socket.display()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for the process to exit and for its output to be complete;
    /// panics after [`EXIT_TIMEOUT`] (and the drop then kills it).
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.join_readers();
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "echo-server did not exit within {EXIT_TIMEOUT:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until stdout has at least `count` lines (or the process has
    /// exited) and returns them.
    pub fn wait_stdout_lines(&self, count: usize) -> Vec<String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let lines = self.stdout();
            if lines.len() >= count || Instant::now() > deadline {
                return lines;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stdout lines so far.
    pub fn stdout(&self) -> Vec<String> {
        self.captured(|c| &c.stdout)
    }

    /// Stderr lines so far.
    pub fn stderr(&self) -> Vec<String> {
        self.captured(|c| &c.stderr)
    }

    fn captured(&self, field: fn(&Captured) -> &Vec<String>) -> Vec<String> {
        field(&self.output.lock().unwrap_or_else(PoisonError::into_inner)).clone()
    }

    fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.join_readers();
    }
}

/// Runs the server to completion, for invocations that are expected to
/// exit by themselves (bad arguments, socket in use...). Returns the exit
/// status and the stdout and stderr lines.
pub fn run_to_exit(builder: ServerBuilder) -> (ExitStatus, Vec<String>, Vec<String>) {
    let mut server = builder.spawn();
    let status = server.wait_exit();
    (status, server.stdout(), server.stderr())
}

/// Sends `signal` to process `pid`.
pub fn send_signal(pid: u32, signal: i32) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits in pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// The server a test talks to: one started by the test runner, or a private
/// one of this test process.
#[derive(Debug, Clone)]
pub enum ServerRef {
    /// A server started outside this process, found through `ECHO_SOCKET`.
    External(PathBuf),
    /// A server started by this process; it stops when the last test using
    /// it drops its reference.
    Private(Arc<ServerProcess>),
}

impl ServerRef {
    /// The socket path.
    pub fn socket(&self) -> &Path {
        match self {
            ServerRef::External(path) => path,
            ServerRef::Private(server) => server.socket(),
        }
    }
}

/// The server for tests that need no server of their own: the one named by
/// `ECHO_SOCKET`, otherwise a private server shared with the tests of this
/// process that run at the same time.
pub fn shared_server() -> ServerRef {
    if let Some(path) = std::env::var_os("ECHO_SOCKET").filter(|p| !p.is_empty()) {
        return ServerRef::External(PathBuf::from(path));
    }
    static SHARED: Mutex<Weak<ServerProcess>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(server) = slot.upgrade() {
        return ServerRef::Private(server);
    }
    let server = Arc::new(ServerProcess::start());
    *slot = Arc::downgrade(&server);
    ServerRef::Private(server)
}

/// A raw protocol connection with timeouts.
#[derive(Debug)]
pub struct LineConn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl LineConn {
    /// Connects to `socket`, panicking on failure.
    pub fn connect(socket: &Path) -> LineConn {
        let stream = UnixStream::connect(socket)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", socket.display()));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        LineConn {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    /// Writes raw bytes.
    pub fn write(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("writing to the server");
    }

    /// Reads one line without its `\n`; `None` at end of stream.
    pub fn read_line(&mut self) -> Option<String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                assert!(line.ends_with('\n'), "reply without line ending: {line:?}");
                line.pop();
                Some(line)
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading from the server: {e}"),
        }
    }

    /// Sends `line` with a `\n` and returns the reply line.
    pub fn request(&mut self, line: &str) -> String {
        self.write(format!("{line}\n").as_bytes());
        self.read_line().expect("the server closed the connection")
    }

    /// Closes the writing half, telling the server no more lines come.
    pub fn finish(&mut self) {
        self.writer
            .shutdown(std::net::Shutdown::Write)
            .expect("shutting down the write half");
    }
}

/// Waits until `path` no longer exists; panics after [`EXIT_TIMEOUT`].
pub fn wait_until_removed(path: &Path) {
    let deadline = Instant::now() + EXIT_TIMEOUT;
    while path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} still exists after {EXIT_TIMEOUT:?}",
            path.display()
        );
        thread::sleep(Duration::from_millis(10));
    }
}
