//! Child processes in their own process groups: started, watched, reaped
//! with their resource usage, and killed together with every grandchild.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code if it exited.
    pub code: Option<i32>,
    /// Signal if one killed it.
    pub signal: Option<i32>,
    /// User + system CPU time.
    pub cpu: Duration,
}

impl ExitInfo {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A handle that can signal a process group for as long as its leader has
/// not been reaped. Reaping and signalling share a lock, so a signal can
/// never reach a recycled process group id.
#[derive(Clone, Debug)]
pub struct GroupHandle {
    pgid: i32,
    reaped: Arc<Mutex<bool>>,
}

impl GroupHandle {
    /// Sends `signal` to the whole group. Returns false if it is gone.
    pub fn signal(&self, signal: Signal) -> bool {
        let reaped = self.reaped.lock().expect("reap lock");
        if *reaped {
            return false;
        }
        killpg(Pid::from_raw(self.pgid), signal).is_ok()
    }

    /// The process group id (equal to the leader's pid).
    pub fn pgid(&self) -> i32 {
        self.pgid
    }
}

/// Where a child's stdout and stderr go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputMode {
    /// Separate pipes for stdout and stderr.
    Split,
    /// One pipe for both, so their interleaving is kept (batches).
    Combined,
    /// Inherited from gantry (`--no-capture`).
    Inherit,
}

/// A running child process with its output pipes.
pub struct Spawned {
    child: Child,
    /// Handle to signal its process group.
    pub group: GroupHandle,
    /// The stdout pipe (or the combined one).
    pub stdout: Option<std::io::PipeReader>,
    /// The stderr pipe, when split.
    pub stderr: Option<std::io::PipeReader>,
}

/// Starts `cmd` as the leader of a new process group.
pub fn spawn(mut cmd: Command, output: OutputMode) -> std::io::Result<Spawned> {
    cmd.stdin(Stdio::null()).process_group(0);
    let (mut out_r, mut err_r) = (None, None);
    match output {
        OutputMode::Inherit => {
            cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
        }
        OutputMode::Split => {
            let (r1, w1) = std::io::pipe()?;
            let (r2, w2) = std::io::pipe()?;
            cmd.stdout(w1).stderr(w2);
            out_r = Some(r1);
            err_r = Some(r2);
        }
        OutputMode::Combined => {
            let (r, w) = std::io::pipe()?;
            let w2 = w.try_clone()?;
            cmd.stdout(w).stderr(w2);
            out_r = Some(r);
        }
    }
    let child = cmd.spawn()?;
    // `cmd` still holds our copies of the write ends; drop them so that
    // EOF arrives when the child's side closes.
    drop(cmd);
    let pgid = child.id() as i32;
    Ok(Spawned {
        child,
        group: GroupHandle {
            pgid,
            reaped: Arc::new(Mutex::new(false)),
        },
        stdout: out_r,
        stderr: err_r,
    })
}

impl Spawned {
    /// The leader's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Blocks until the leader exits, kills whatever else is left in its
    /// process group (grandchildren must not outlive a test), then reaps
    /// the leader with its resource usage.
    pub fn wait(self) -> std::io::Result<ExitInfo> {
        let pid = self.child.id() as libc::pid_t;
        // Wait without reaping, so the group id stays ours while we kill
        // the rest of the group.
        loop {
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let r = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if r == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        let mut reaped = self.group.reaped.lock().expect("reap lock");
        let _ = killpg(Pid::from_raw(self.group.pgid), Signal::SIGKILL);
        let mut status: libc::c_int = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        loop {
            let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            if r == pid {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
        *reaped = true;
        drop(reaped);
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
        let (code, signal) = if libc::WIFEXITED(status) {
            (Some(libc::WEXITSTATUS(status)), None)
        } else if libc::WIFSIGNALED(status) {
            (None, Some(libc::WTERMSIG(status)))
        } else {
            (None, None)
        };
        // `self.child` is dropped without waiting: it is already reaped.
        Ok(ExitInfo { code, signal, cpu })
    }
}

/// Bytes a read must bring for the reader to come back at once; below it,
/// the writer is producing many small writes, and waiting a moment lets
/// them pile up in the pipe instead of costing a wake-up each.
const SMALL_READ: usize = 16 * 1024;

/// Reads a pipe to the end on a thread of its own. A test that prints
/// millions of short lines makes as many writes; reading each one as it
/// comes costs a context switch per line, so after a small read the reader
/// pauses a millisecond and takes what accumulated (the pipe is enlarged
/// to hold it) in one go.
pub fn read_to_end_thread(mut pipe: std::io::PipeReader) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        enlarge_pipe(&pipe);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if n < SMALL_READ && out.len() > SMALL_READ {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        out
    })
}

/// Asks for a 1 MiB pipe buffer (Linux); failure only costs speed.
fn enlarge_pipe(pipe: &std::io::PipeReader) {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor we own has no memory effects.
    unsafe {
        libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20);
    }
}

/// The conventional name of a signal number, e.g. `SIGSEGV`.
pub fn signal_name(sig: i32) -> String {
    Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}
