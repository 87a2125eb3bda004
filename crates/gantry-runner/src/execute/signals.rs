//! Turning SIGINT, SIGTERM and SIGHUP into scheduler messages, so that the
//! run can forward them to every test's process group and tear down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};

use super::worker::Msg;

/// How many of SIGINT, SIGTERM and SIGHUP gantry has received so far.
///
/// The scheduler learns of signals through its channel, but fixture
/// startup and teardown block outside the scheduler loop: they poll this
/// count so that a readiness wait stops at the first signal, and a
/// teardown skips the rest of its grace period at the next one.
#[derive(Clone, Debug, Default)]
pub struct SignalCount(Arc<AtomicUsize>);

impl SignalCount {
    /// A count starting at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Signals received so far.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Records one more signal (the forwarder does this before it tells
    /// the scheduler, so whoever sees the message also sees the count).
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Keeps the signal handlers installed while alive.
pub struct SignalForwarder {
    handle: Handle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SignalForwarder {
    /// Installs handlers that send [`Msg::Signal`] to `tx`.
    pub fn install(tx: Sender<Msg>) -> std::io::Result<Self> {
        Self::install_counting(tx, SignalCount::new())
    }

    /// Like [`install`](Self::install), and also bumps `count` for every
    /// signal.
    pub fn install_counting(tx: Sender<Msg>, count: SignalCount) -> std::io::Result<Self> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        let thread = std::thread::spawn(move || {
            for sig in signals.forever() {
                count.bump();
                // Keep counting after the scheduler is gone: teardown
                // still needs to notice signals.
                let _ = tx.send(Msg::Signal(sig));
            }
        });
        Ok(Self {
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for SignalForwarder {
    fn drop(&mut self) {
        self.handle.close();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
