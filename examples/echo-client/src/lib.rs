//! Client for the echo-server line protocol.
//!
//! ```no_run
//! use echo_client::Client;
//!
//! let mut client = Client::connect("/tmp/echo.sock")?;
//! assert_eq!(client.send("hello")?, "hello");
//! client.ping()?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! When the connection is lost, [`Client::send`] reconnects with exponential
//! [`Backoff`] and retries the request once (echo requests are idempotent).
//! [`KeepAlive`] pings over a client's connection at a fixed interval.

mod backoff;
mod framing;
mod keepalive;

use std::io::{self, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

pub use backoff::Backoff;
pub use keepalive::KeepAlive;

/// The longest message, in bytes, that the server accepts on one line.
pub const MAX_MESSAGE_LEN: usize = 64 * 1024;

/// How a [`Client`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Read and write timeout of each request; `None` waits forever.
    pub io_timeout: Option<Duration>,
    /// Whether a request that finds the connection lost reconnects and is
    /// retried once.
    pub reconnect: bool,
    /// How many connection attempts one reconnect makes before giving up.
    pub max_reconnect_attempts: u32,
    /// Delays between those attempts.
    pub backoff: Backoff,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            io_timeout: Some(Duration::from_secs(5)),
            reconnect: true,
            max_reconnect_attempts: 8,
            backoff: Backoff::default(),
        }
    }
}

/// A connection to an echo server.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    options: Options,
    conn: Option<Conn>,
    reconnects: u64,
}

impl Client {
    /// Connects to the server listening on `path`, with default [`Options`].
    /// Makes a single attempt: a missing server is reported at once.
    pub fn connect(path: impl AsRef<Path>) -> io::Result<Client> {
        Client::connect_with(path, Options::default())
    }

    /// Connects to the server listening on `path`.
    pub fn connect_with(path: impl AsRef<Path>, options: Options) -> io::Result<Client> {
        let path = path.as_ref().to_owned();
        let conn = Conn::open(&path, &options).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot connect to {}: {e}", path.display()),
            )
        })?;
        Ok(Client {
            path,
            options,
            conn: Some(conn),
            reconnects: 0,
        })
    }

    /// Sends one message and returns the server's reply. The message must
    /// not contain line breaks and must fit in [`MAX_MESSAGE_LEN`] bytes.
    pub fn send(&mut self, message: &str) -> io::Result<String> {
        let frame = framing::encode(message, MAX_MESSAGE_LEN)?;
        match self.request(&frame) {
            Err(e) if self.options.reconnect && is_connection_lost(&e) => {
                self.reconnect()?;
                self.request(&frame)
            }
            result => result,
        }
    }

    /// Sends `PING` and checks the answer is `PONG`. Returns the round-trip
    /// time.
    pub fn ping(&mut self) -> io::Result<Duration> {
        let start = Instant::now();
        let reply = self.send("PING")?;
        if reply != "PONG" {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected PONG, got {reply:?}"),
            ));
        }
        Ok(start.elapsed())
    }

    /// Drops the current connection (if any) and connects again, waiting
    /// between attempts as [`Options::backoff`] says.
    pub fn reconnect(&mut self) -> io::Result<()> {
        self.conn = None;
        let attempts = self.options.max_reconnect_attempts.max(1);
        let mut attempt = 0;
        loop {
            match Conn::open(&self.path, &self.options) {
                Ok(conn) => {
                    self.conn = Some(conn);
                    self.reconnects += 1;
                    return Ok(());
                }
                Err(e) if attempt + 1 >= attempts => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "cannot reconnect to {} after {attempts} attempts: {e}",
                            self.path.display()
                        ),
                    ));
                }
                Err(_) => {
                    thread::sleep(self.options.backoff.delay(attempt));
                    attempt += 1;
                }
            }
        }
    }

    /// Whether the client currently holds a connection. A lost connection
    /// is only noticed by the next request.
    pub fn is_connected(&self) -> bool {
        self.conn.is_some()
    }

    /// How many times the client reconnected.
    pub fn reconnects(&self) -> u64 {
        self.reconnects
    }

    /// The socket path of the server.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one framed request on the current connection. Any failure
    /// drops the connection, since its state is then unknown.
    fn request(&mut self, frame: &[u8]) -> io::Result<String> {
        let Some(conn) = self.conn.as_mut() else {
            return Err(io::Error::new(io::ErrorKind::NotConnected, "not connected"));
        };
        let result = conn.request(frame);
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    /// A client over an already connected stream (tests use socket pairs).
    #[cfg(test)]
    pub(crate) fn from_stream(stream: UnixStream, options: Options) -> io::Result<Client> {
        Ok(Client {
            path: PathBuf::from("<socketpair>"),
            conn: Some(Conn::new(stream, &options)?),
            options,
            reconnects: 0,
        })
    }
}

#[derive(Debug)]
struct Conn {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Conn {
    fn open(path: &Path, options: &Options) -> io::Result<Conn> {
        Conn::new(UnixStream::connect(path)?, options)
    }

    fn new(stream: UnixStream, options: &Options) -> io::Result<Conn> {
        stream.set_read_timeout(options.io_timeout)?;
        stream.set_write_timeout(options.io_timeout)?;
        Ok(Conn {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    fn request(&mut self, frame: &[u8]) -> io::Result<String> {
        self.writer.write_all(frame)?;
        // The server answers an over-long line with a short error, so any
        // valid reply fits in the same limit.
        framing::read_line(&mut self.reader, MAX_MESSAGE_LEN)
    }
}

/// Whether `error` means the connection is gone (as opposed to, say, a bad
/// message or a timeout), so that reconnecting may help.
pub(crate) fn is_connection_lost(error: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        error.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | UnexpectedEof | NotConnected
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    /// Runs `peer` on the far end of a socket pair and returns a client on
    /// the near end.
    fn client_with_peer(
        options: Options,
        peer: impl FnOnce(BufReader<UnixStream>, UnixStream) + Send + 'static,
    ) -> (Client, thread::JoinHandle<()>) {
        let (near, far) = UnixStream::pair().unwrap();
        let handle = thread::spawn(move || {
            let writer = far.try_clone().unwrap();
            peer(BufReader::new(far), writer)
        });
        (Client::from_stream(near, options).unwrap(), handle)
    }

    #[test]
    fn send_frames_message_and_reads_reply() {
        let (mut client, peer) = client_with_peer(Options::default(), |mut reader, mut writer| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            assert_eq!(line, "hello\n");
            writer.write_all(b"reply\r\n").unwrap();
        });
        assert_eq!(client.send("hello").unwrap(), "reply");
        peer.join().unwrap();
    }

    #[test]
    fn ping_rejects_anything_but_pong() {
        let (mut client, peer) = client_with_peer(Options::default(), |mut reader, mut writer| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            writer.write_all(b"PING\n").unwrap();
        });
        let err = client.ping().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        peer.join().unwrap();
    }

    #[test]
    fn lost_connection_without_reconnect_is_reported_and_dropped() {
        let options = Options {
            reconnect: false,
            ..Options::default()
        };
        let (mut client, peer) = client_with_peer(options, |_reader, _writer| {});
        peer.join().unwrap();
        let err = client.send("anyone there?").unwrap_err();
        assert!(is_connection_lost(&err), "{err:?}");
        assert!(!client.is_connected());
        let err = client.send("again").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotConnected);
    }

    #[test]
    fn invalid_message_keeps_connection() {
        let (mut client, peer) = client_with_peer(Options::default(), |mut reader, mut writer| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            writer.write_all(line.as_bytes()).unwrap();
        });
        let err = client.send("two\nlines").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(client.is_connected());
        assert_eq!(client.send("one line").unwrap(), "one line");
        peer.join().unwrap();
    }

    #[test]
    fn reconnect_gives_up_after_max_attempts() {
        let options = Options {
            max_reconnect_attempts: 3,
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
                multiplier: 2,
            },
            ..Options::default()
        };
        let (near, _far) = UnixStream::pair().unwrap();
        let mut client = Client::from_stream(near, options).unwrap();
        client.path = PathBuf::from("/nonexistent/echo-client-test.sock");
        let err = client.reconnect().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("after 3 attempts"), "{err}");
        assert!(!client.is_connected());
        assert_eq!(client.reconnects(), 0);
    }

    #[test]
    fn connection_lost_classification() {
        for kind in [
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::NotConnected,
        ] {
            assert!(is_connection_lost(&kind.into()), "{kind:?}");
        }
        for kind in [
            io::ErrorKind::WouldBlock,
            io::ErrorKind::TimedOut,
            io::ErrorKind::InvalidInput,
            io::ErrorKind::InvalidData,
        ] {
            assert!(!is_connection_lost(&kind.into()), "{kind:?}");
        }
    }
}
