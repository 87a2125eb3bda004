//! The echo protocol and the daemon that serves it on a Unix socket.
//!
//! The protocol is line based: every line a client sends is answered with one
//! line. `PING` is answered with `PONG`; any other line is echoed back. A
//! trailing `\r` is dropped, so `\r\n` line endings work too. Lines longer
//! than [`MAX_LINE_LEN`] bytes are answered with [`TOO_LONG_REPLY`] and the
//! connection is closed.
//!
//! The daemon itself is [`Server`]: bind it to a socket path, then
//! [`Server::run`] it until its [`Shutdown`] is triggered (by a signal or by
//! [`Shutdown::trigger`]). The `echo-server` binary is a thin wrapper around
//! these pieces.

mod config;
mod log;
mod server;
mod shutdown;

pub use config::{Command, Config, LOG_ENV, SOCKET_ENV, USAGE};
pub use log::Logger;
pub use server::{Server, Stats};
pub use shutdown::{Shutdown, received_signal, signal_name};

/// The longest line, in bytes and without its line ending, that the server
/// accepts.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// The reply sent, just before closing the connection, to a line longer than
/// [`MAX_LINE_LEN`].
pub const TOO_LONG_REPLY: &str = "ERR line too long";

/// Computes the reply to one protocol line (given without its line ending).
///
/// `PING` is answered with `PONG`; every other line is echoed unchanged.
pub fn handle_line(line: &str) -> String {
    match line {
        "PING" => "PONG".to_owned(),
        other => other.to_owned(),
    }
}
