//! Shutdown requests: a self-pipe that signal handlers and other threads can
//! write to, and that the accept loop polls alongside the listening socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, OnceLock};

#[cfg(any(target_os = "linux", target_os = "android"))]
use libc::__errno_location as errno_location;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
use libc::__error as errno_location;

/// The write end of the pipe of the [`Shutdown`] that signal handlers wake.
static SIGNAL_WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The last shutdown signal received, or 0.
static SIGNAL_RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Keeps the signal-handling [`Shutdown`] (and so its pipe) alive for good.
static SIGNAL_TARGET: OnceLock<Shutdown> = OnceLock::new();

/// A shutdown request that can be triggered once from anywhere (another
/// thread, or a signal handler after [`Shutdown::install_signal_handlers`])
/// and waited for with `poll(2)`. Clones share the same request.
#[derive(Debug, Clone)]
pub struct Shutdown {
    pipe: Arc<Pipe>,
}

#[derive(Debug)]
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Shutdown {
    /// Creates an untriggered shutdown request.
    pub fn new() -> io::Result<Shutdown> {
        let mut fds = [-1; 2];
        // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill in.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe(2) succeeded, so both descriptors are open and owned
        // by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        for fd in [read.as_raw_fd(), write.as_raw_fd()] {
            set_flags(fd)?;
        }
        Ok(Shutdown {
            pipe: Arc::new(Pipe { read, write }),
        })
    }

    /// Requests shutdown. Safe to call any number of times.
    pub fn trigger(&self) {
        wake(self.pipe.write.as_raw_fd());
    }

    /// Whether shutdown has been requested.
    pub fn is_triggered(&self) -> bool {
        let mut fds = [libc::pollfd {
            fd: self.wake_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        // SAFETY: `fds` is a valid array of one pollfd.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
        ready > 0 && fds[0].revents != 0
    }

    /// Makes SIGTERM and SIGINT trigger this shutdown request. Can be done
    /// for one `Shutdown` per process; later calls fail.
    pub fn install_signal_handlers(&self) -> io::Result<()> {
        if SIGNAL_TARGET.set(self.clone()).is_err() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "signal handlers are already installed",
            ));
        }
        SIGNAL_WAKE_FD.store(self.pipe.write.as_raw_fd(), Ordering::SeqCst);
        for signal in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: an all-zero sigaction is a valid starting point; every
            // field that matters is set below.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            // SAFETY: `action.sa_mask` is a valid sigset_t to initialise.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // SAFETY: `action` is fully initialised and the handler only does
            // async-signal-safe work (atomics and write(2)).
            if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }

    /// The descriptor that becomes readable once shutdown is requested.
    pub(crate) fn wake_fd(&self) -> RawFd {
        self.pipe.read.as_raw_fd()
    }
}

/// The shutdown signal (SIGTERM or SIGINT) this process received, if any.
pub fn received_signal() -> Option<i32> {
    match SIGNAL_RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// The conventional name of a signal number, such as `SIGTERM`.
pub fn signal_name(signal: i32) -> String {
    match signal {
        libc::SIGTERM => "SIGTERM".to_owned(),
        libc::SIGINT => "SIGINT".to_owned(),
        other => format!("signal {other}"),
    }
}

extern "C" fn on_signal(signal: libc::c_int) {
    // SAFETY: errno_location returns this thread's errno, which the handler
    // must leave as it found it.
    let saved_errno = unsafe { *errno_location() };
    SIGNAL_RECEIVED.store(signal, Ordering::SeqCst);
    let fd = SIGNAL_WAKE_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        wake(fd);
    }
    // SAFETY: as above.
    unsafe { *errno_location() = saved_errno };
}

/// Writes one byte to the wake pipe. Async-signal-safe. A full pipe is fine:
/// it is already readable.
fn wake(fd: RawFd) {
    let byte = 1u8;
    // SAFETY: `byte` is valid for a one-byte read; a failed write is harmless.
    unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
}

fn set_flags(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on a descriptor this module owns.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let fd_flags = libc::fcntl(fd, libc::F_GETFD);
        if flags < 0
            || fd_flags < 0
            || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0
            || libc::fcntl(fd, libc::F_SETFD, fd_flags | libc::FD_CLOEXEC) < 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_is_seen_by_clones() {
        let shutdown = Shutdown::new().unwrap();
        let clone = shutdown.clone();
        assert!(!shutdown.is_triggered());
        clone.trigger();
        assert!(shutdown.is_triggered());
        // Stays triggered, and triggering again is harmless.
        clone.trigger();
        assert!(shutdown.is_triggered());
    }

    #[test]
    fn independent_requests_do_not_interfere() {
        let a = Shutdown::new().unwrap();
        let b = Shutdown::new().unwrap();
        a.trigger();
        assert!(a.is_triggered());
        assert!(!b.is_triggered());
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(libc::SIGINT), "SIGINT");
        assert_eq!(
            signal_name(libc::SIGHUP),
            format!("signal {}", libc::SIGHUP)
        );
    }
}
