//! Running one command of a step: in its own process group, output
//! appended to the step's log, killed with its whole group at the step's
//! deadline.
//!
//! Steps run compilers, test runners and shell scripts that start children
//! of their own; killing only the direct child of a hung step would leave
//! the grandchildren running (and holding the log open) after gantry has
//! reported the step. Each command therefore leads a new process group,
//! and the group is signalled as a whole: SIGTERM first so tools can clean
//! up, SIGKILL after the grace period. The group is also cleared when the
//! command exits normally, so no step leaves stray processes behind.

use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// How a command ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It exited (or died of a signal) before the deadline.
    Exited(ExitStatus),
    /// The deadline passed; its process group was killed.
    TimedOut,
    /// It could not be started.
    SpawnFailed(std::io::Error),
}

/// What to run.
pub(crate) struct Job<'a> {
    pub program: &'a str,
    pub args: &'a [String],
    pub env: &'a [(String, String)],
    pub cwd: &'a Path,
}

/// Runs `job` with stdout and stderr appended to `log`, until it ends or
/// `deadline` passes.
pub(crate) fn run(job: &Job<'_>, log: &File, deadline: Instant, grace: Duration) -> Ended {
    let (out, err) = match (log.try_clone(), log.try_clone()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return Ended::SpawnFailed(e),
    };
    let mut cmd = Command::new(job.program);
    cmd.args(job.args)
        .current_dir(job.cwd)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Ended::SpawnFailed(e),
    };
    let pgid = Pid::from_raw(child.id() as i32);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                // Leftovers of the group (background jobs) go with it.
                let _ = killpg(pgid, Signal::SIGKILL);
                return Ended::Exited(status);
            }
            Ok(None) => {}
            Err(e) => {
                let _ = killpg(pgid, Signal::SIGKILL);
                let _ = child.wait();
                return Ended::SpawnFailed(e);
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
    let _ = killpg(pgid, Signal::SIGTERM);
    let grace_end = Instant::now() + grace;
    while Instant::now() < grace_end {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(pgid, Signal::SIGKILL);
    let _ = child.wait();
    Ended::TimedOut
}

/// "exit code 101", "signal 9 (SIGKILL)".
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(code) = status.code() {
        format!("exit code {code}")
    } else if let Some(sig) = status.signal() {
        match Signal::try_from(sig) {
            Ok(s) => format!("signal {sig} ({})", s.as_str()),
            Err(_) => format!("signal {sig}"),
        }
    } else {
        status.to_string()
    }
}
