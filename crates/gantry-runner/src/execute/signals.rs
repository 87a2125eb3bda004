//! Turning SIGINT, SIGTERM and SIGHUP into scheduler messages, so that the
//! run can forward them to every test's process group and tear down.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

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

/// Passes SIGINT, SIGTERM and SIGHUP to the scheduler while alive.
pub struct SignalForwarder {
    _subscription: Subscription,
}

impl SignalForwarder {
    /// Sends [`Msg::Signal`] to `tx` for every signal from now on, and for
    /// one that arrived while nothing listened.
    pub fn install(tx: Sender<Msg>) -> std::io::Result<Self> {
        Self::install_counting(tx, SignalCount::new())
    }

    /// Like [`install`](Self::install), and also bumps `count` for every
    /// signal.
    pub fn install_counting(tx: Sender<Msg>, count: SignalCount) -> std::io::Result<Self> {
        let subscription = subscribe(move |sig| {
            count.bump();
            // Keep counting after the scheduler is gone: teardown still
            // needs to notice signals.
            let _ = tx.send(Msg::Signal(sig));
        })?;
        Ok(Self {
            _subscription: subscription,
        })
    }
}

type Listener = Arc<dyn Fn(i32) + Send + Sync>;

/// The process's one watcher of SIGINT, SIGTERM and SIGHUP.
///
/// Handlers are installed on first use and stay. Whatever runs when a
/// signal arrives — the build, the scheduler, `fixture up` — subscribes
/// and is told; a signal that arrives while nothing listens (between the
/// build and the run, say) is kept for the next subscriber, so it is never
/// lost between phases.
#[derive(Default)]
struct Watcher {
    state: Mutex<WatcherState>,
}

#[derive(Default)]
struct WatcherState {
    next_id: u64,
    listeners: Vec<(u64, Listener)>,
    unheard: Option<i32>,
}

impl Watcher {
    fn lock(&self) -> std::sync::MutexGuard<'_, WatcherState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deliver(&self, sig: i32) {
        let listeners: Vec<Listener> = {
            let mut st = self.lock();
            if st.listeners.is_empty() {
                st.unheard.get_or_insert(sig);
                return;
            }
            st.listeners.iter().map(|(_, l)| l.clone()).collect()
        };
        for l in listeners {
            l(sig);
        }
    }
}

fn watcher() -> std::io::Result<&'static Watcher> {
    static WATCHER: OnceLock<Watcher> = OnceLock::new();
    static INSTALLED: Mutex<bool> = Mutex::new(false);
    let w = WATCHER.get_or_init(Watcher::default);
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if !*installed {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        std::thread::Builder::new()
            .name("gantry-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    w.deliver(sig);
                }
            })?;
        *installed = true;
    }
    Ok(w)
}

/// Calls `listener` for every SIGINT, SIGTERM and SIGHUP until the
/// returned [`Subscription`] is dropped — at once for a signal that
/// arrived while nothing listened.
pub fn subscribe(listener: impl Fn(i32) + Send + Sync + 'static) -> std::io::Result<Subscription> {
    let w = watcher()?;
    let listener: Listener = Arc::new(listener);
    let (id, unheard) = {
        let mut st = w.lock();
        st.next_id += 1;
        let id = st.next_id;
        st.listeners.push((id, listener.clone()));
        (id, st.unheard.take())
    };
    if let Some(sig) = unheard {
        listener(sig);
    }
    Ok(Subscription { id })
}

/// Keeps a [`subscribe`] listener registered while alive.
pub struct Subscription {
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Ok(w) = watcher() {
            w.lock().listeners.retain(|(id, _)| *id != self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_nobody_heard_goes_to_the_next_subscriber() {
        let w = watcher().unwrap();
        // Delivered by hand: a real signal would reach the whole test
        // process.
        w.deliver(SIGHUP);
        let (tx, rx) = std::sync::mpsc::channel();
        let sub = subscribe(move |s| tx.send(s).unwrap()).unwrap();
        assert_eq!(rx.try_recv(), Ok(SIGHUP));
        w.deliver(SIGTERM);
        assert_eq!(rx.try_recv(), Ok(SIGTERM));
        drop(sub);
        // Heard once is enough: the next subscriber starts clean.
        let (tx, rx) = std::sync::mpsc::channel();
        let _sub = subscribe(move |s| tx.send(s).unwrap()).unwrap();
        assert!(rx.try_recv().is_err());
    }
}
