//! The accept loop and the per-connection protocol handler.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown as SocketShutdown;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crate::{Logger, MAX_LINE_LEN, Shutdown, TOO_LONG_REPLY, handle_line};

/// A daemon bound to a Unix socket, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    socket: SocketFile,
}

/// What a finished [`Server::run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// How many client connections were accepted.
    pub connections: u64,
}

impl Server {
    /// Binds to `path`.
    ///
    /// A stale socket file (one nobody listens on any more) is replaced. It
    /// is an error if another server is listening on `path`, or if `path`
    /// exists and is not a socket.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Server> {
        let path = path.as_ref();
        match fs::symlink_metadata(path) {
            Ok(meta) if !meta.file_type().is_socket() => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            Ok(_) => match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("another server is already listening on {}", path.display()),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    remove_if_present(path)?;
                }
                Err(e) => return Err(e),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let meta = fs::metadata(path)?;
        Ok(Server {
            listener,
            socket: SocketFile {
                path: path.to_owned(),
                dev: meta.dev(),
                ino: meta.ino(),
            },
        })
    }

    /// The socket path this server listens on.
    pub fn path(&self) -> &Path {
        &self.socket.path
    }

    /// Serves clients, one thread per connection, until `shutdown` is
    /// triggered. Then closes every client connection, waits for their
    /// threads and removes the socket file (if it is still this server's).
    pub fn run(self, shutdown: &Shutdown, log: &Logger) -> io::Result<Stats> {
        let Server { listener, socket } = self;
        log.log(format_args!("listening on {}", socket.path.display()));
        let clients: Mutex<HashMap<u64, UnixStream>> = Mutex::new(HashMap::new());
        let mut accepted = 0u64;
        let result = thread::scope(|scope| {
            let result = loop {
                match wait_readable(listener.as_raw_fd(), shutdown.wake_fd()) {
                    Ok(Ready::Shutdown) => break Ok(()),
                    Ok(Ready::Listener) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => break Err(e),
                }
                loop {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            accepted += 1;
                            let id = accepted;
                            if let Err(e) = register(&clients, id, &stream) {
                                log.log(format_args!("conn #{id}: setup failed: {e}"));
                                continue;
                            }
                            log.log(format_args!("conn #{id}: accepted"));
                            let clients = &clients;
                            scope.spawn(move || {
                                match serve_connection(&stream, log, id) {
                                    Ok(lines) => log.log(format_args!(
                                        "conn #{id}: closed after {lines} lines"
                                    )),
                                    Err(e) => log.log(format_args!("conn #{id}: error: {e}")),
                                }
                                lock(clients).remove(&id);
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            // For example out of file descriptors: back off
                            // instead of spinning on a listener that stays
                            // readable.
                            log.log(format_args!("accept failed: {e}"));
                            thread::sleep(Duration::from_millis(20));
                            break;
                        }
                    }
                }
            };
            let open = lock(&clients);
            log.log(format_args!(
                "shutting down, closing {} open connections",
                open.len()
            ));
            for stream in open.values() {
                let _ = stream.shutdown(SocketShutdown::Both);
            }
            result
        });
        drop(listener);
        socket.remove();
        log.log(format_args!("stopped after {accepted} connections"));
        result.map(|()| Stats {
            connections: accepted,
        })
    }
}

/// The socket file a server created, identified by device and inode so that
/// a newer server's socket at the same path is never removed.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    fn remove(&self) {
        if let Ok(meta) = fs::symlink_metadata(&self.path) {
            if meta.dev() == self.dev && meta.ino() == self.ino {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keeps a second handle of `stream` so shutdown can close it.
fn register(
    clients: &Mutex<HashMap<u64, UnixStream>>,
    id: u64,
    stream: &UnixStream,
) -> io::Result<()> {
    // Some platforms hand out accepted sockets with the listener's
    // non-blocking flag; connection threads use blocking I/O.
    stream.set_nonblocking(false)?;
    let handle = stream.try_clone()?;
    lock(clients).insert(id, handle);
    Ok(())
}

enum Ready {
    Listener,
    Shutdown,
}

/// Blocks until the listener or the shutdown pipe is readable.
fn wait_readable(listener: i32, wake: i32) -> io::Result<Ready> {
    let mut fds = [
        libc::pollfd {
            fd: listener,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: wake,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: `fds` is a valid array of two pollfds.
    if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    if fds[1].revents != 0 {
        Ok(Ready::Shutdown)
    } else {
        Ok(Ready::Listener)
    }
}

/// Answers lines on one connection until the client closes it. Returns how
/// many lines were answered.
fn serve_connection(stream: &UnixStream, log: &Logger, id: u64) -> io::Result<u64> {
    let mut reader = BufReader::new(stream);
    let mut writer = stream;
    let mut line = Vec::new();
    let mut answered = 0;
    loop {
        line.clear();
        let limit = MAX_LINE_LEN as u64 + 1;
        if (&mut reader).take(limit).read_until(b'\n', &mut line)? == 0 {
            return Ok(answered);
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        } else if line.len() > MAX_LINE_LEN {
            log.log(format_args!(
                "conn #{id}: line longer than {MAX_LINE_LEN} bytes"
            ));
            writer.write_all(format!("{TOO_LONG_REPLY}\n").as_bytes())?;
            return Ok(answered);
        }
        // Otherwise: a last line without a line ending, answered like any.
        let text = String::from_utf8_lossy(&line);
        let mut reply = handle_line(&text).into_bytes();
        if log.is_enabled() {
            log.log(format_args!(
                "conn #{id}: {} bytes in, {} bytes out",
                line.len(),
                reply.len()
            ));
        }
        reply.push(b'\n');
        writer.write_all(&reply)?;
        answered += 1;
    }
}
