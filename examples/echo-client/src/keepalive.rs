//! Background pings that keep a client's connection alive.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::Client;

/// Owns a [`Client`] and pings the server over its connection every
/// `interval`, reconnecting (with the client's backoff) when a ping finds
/// the connection lost. Requests can still be made with
/// [`KeepAlive::send`]; they share the connection with the pings.
///
/// Dropping it stops the pings; [`KeepAlive::stop`] also hands the client
/// back.
#[derive(Debug)]
pub struct KeepAlive {
    shared: Arc<Shared>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    client: Mutex<Client>,
    pings: AtomicU64,
    failures: AtomicU64,
}

impl KeepAlive {
    /// Starts pinging over `client`'s connection every `interval`; the
    /// first ping is one interval from now.
    pub fn start(client: Client, interval: Duration) -> KeepAlive {
        let shared = Arc::new(Shared {
            client: Mutex::new(client),
            pings: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        });
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("echo-keepalive".to_owned())
                .spawn(move || {
                    // Anything but a timeout (a stop message, or the sender
                    // dropped) ends the loop.
                    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                        match shared.client().ping() {
                            Ok(_) => shared.pings.fetch_add(1, Ordering::SeqCst),
                            Err(_) => shared.failures.fetch_add(1, Ordering::SeqCst),
                        };
                    }
                })
                .expect("failed to spawn the keep-alive thread")
        };
        KeepAlive {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Sends a message over the shared connection, like [`Client::send`].
    pub fn send(&self, message: &str) -> io::Result<String> {
        self.shared.client().send(message)
    }

    /// How many pings succeeded so far.
    pub fn pings(&self) -> u64 {
        self.shared.pings.load(Ordering::SeqCst)
    }

    /// How many pings failed so far (even after reconnecting).
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::SeqCst)
    }

    /// How many times the client reconnected so far.
    pub fn reconnects(&self) -> u64 {
        self.shared.client().reconnects()
    }

    /// Stops pinging and returns the client.
    pub fn stop(mut self) -> Client {
        self.halt();
        let shared = Arc::clone(&self.shared);
        drop(self);
        match Arc::try_unwrap(shared) {
            Ok(shared) => shared
                .client
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner),
            Err(_) => unreachable!("the keep-alive thread has been joined"),
        }
    }

    fn halt(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Shared {
    fn client(&self) -> MutexGuard<'_, Client> {
        self.client.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
