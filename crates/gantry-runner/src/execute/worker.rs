//! The thread that runs one unit: starts its process, streams its output,
//! waits for it, and reports back to the scheduler over a channel.

use std::collections::HashMap;
use std::io::Read;
use std::process::Command;
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use super::batch_parser::{BatchEvent, BatchParser};
use super::process::{self, ExitInfo, GroupHandle, OutputMode};
use crate::list::TestBinary;

/// How long to wait for output pipes to close after a process exited.
/// Only a process that left the test's process group can keep them open.
const PIPE_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Messages from workers (and the signal thread) to the scheduler.
#[derive(Debug)]
pub enum Msg {
    /// The unit's process started.
    Started {
        /// Unit id.
        unit: usize,
        /// Its process group.
        group: GroupHandle,
    },
    /// The process could not be started.
    SpawnFailed {
        /// Unit id.
        unit: usize,
        /// Why.
        error: String,
    },
    /// A test in a batch started.
    BatchTestStarted {
        /// Unit id.
        unit: usize,
        /// Position in the unit.
        pos: usize,
        /// When.
        at: Instant,
    },
    /// A test in a batch finished.
    BatchTestFinished {
        /// Unit id.
        unit: usize,
        /// Position in the unit.
        pos: usize,
        /// Whether libtest said ok.
        passed: bool,
        /// Its output.
        output: Vec<u8>,
        /// Its wall time.
        duration: Duration,
    },
    /// The process exited and was reaped.
    Exited {
        /// Unit id.
        unit: usize,
        /// Exit status and CPU time.
        exit: ExitInfo,
        /// Wall time of the process.
        wall: Duration,
        /// Captured stdout (single tests; empty for batches, whose output is per test).
        stdout: Vec<u8>,
        /// Captured stderr (single tests).
        stderr: Vec<u8>,
        /// In batches: the test that was running when the process ended.
        unfinished: Option<(usize, Vec<u8>)>,
        /// In batches: what libtest captured per test (position, output).
        captured: Vec<(usize, Vec<u8>)>,
    },
    /// gantry received a signal.
    Signal(i32),
}

/// What a worker needs to start a unit's process.
#[derive(Debug)]
pub struct Job {
    /// Unit id.
    pub unit: usize,
    /// The binary.
    pub binary: std::sync::Arc<TestBinary>,
    /// Test names in unit order.
    pub names: Vec<String>,
    /// Batch or single.
    pub batch: bool,
    /// Run ignored tests too (some of `names` are `#[ignore]`d).
    pub include_ignored: bool,
    /// Wrapper command.
    pub wrapper: Option<Vec<String>>,
    /// Extra environment (gantry's variables, fixture exports).
    pub env: Vec<(String, String)>,
    /// Pass output through instead of capturing.
    pub no_capture: bool,
}

impl Job {
    fn command(&self) -> Command {
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        if let Some(w) = &self.wrapper {
            argv.extend(w.iter().map(Into::into));
        }
        argv.push(self.binary.path.clone().into());
        argv.push("--exact".into());
        if self.batch {
            argv.extend(
                [
                    "--show-output",
                    "--test-threads=1",
                    "--format",
                    "pretty",
                    "--color",
                    "never",
                ]
                .map(Into::into),
            );
            argv.extend(self.names.iter().map(Into::into));
        } else {
            argv.push(self.names[0].clone().into());
            argv.push("--nocapture".into());
        }
        if self.include_ignored {
            argv.push("--include-ignored".into());
        }
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .current_dir(&self.binary.cwd)
            .envs(self.binary.env.iter().map(|(k, v)| (k, v)))
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }
}

/// Runs a job to completion, reporting to `tx`. Never panics on process
/// problems: they become messages.
pub fn run(job: Job, tx: Sender<Msg>) {
    let mode = if job.no_capture {
        OutputMode::Inherit
    } else if job.batch {
        OutputMode::Combined
    } else {
        OutputMode::Split
    };
    let started = Instant::now();
    let mut spawned = match process::spawn(job.command(), mode) {
        Ok(s) => s,
        Err(e) => {
            let program = job
                .wrapper
                .as_ref()
                .and_then(|w| w.first().cloned())
                .unwrap_or_else(|| job.binary.path.display().to_string());
            let _ = tx.send(Msg::SpawnFailed {
                unit: job.unit,
                error: format!("could not start `{program}`: {e}"),
            });
            return;
        }
    };
    let _ = tx.send(Msg::Started {
        unit: job.unit,
        group: spawned.group.clone(),
    });
    let (done_tx, done_rx) = mpsc::channel::<Captured>();
    if job.batch {
        let pipe = spawned.stdout.take().expect("combined pipe");
        let names = job.names.clone();
        let tx = tx.clone();
        let unit = job.unit;
        std::thread::spawn(move || {
            let result = read_batch(pipe, &names, unit, &tx);
            let _ = done_tx.send(result);
        });
    } else if !job.no_capture {
        let out = process::read_to_end_thread(spawned.stdout.take().expect("stdout pipe"));
        let err = process::read_to_end_thread(spawned.stderr.take().expect("stderr pipe"));
        std::thread::spawn(move || {
            let o = out.join().unwrap_or_default();
            let e = err.join().unwrap_or_default();
            let _ = done_tx.send(Captured {
                stdout: o,
                stderr: e,
                ..Captured::default()
            });
        });
    } else {
        let _ = done_tx.send(Captured::default());
    }
    let exit = match spawned.wait() {
        Ok(e) => e,
        Err(e) => {
            let _ = tx.send(Msg::SpawnFailed {
                unit: job.unit,
                error: format!("could not wait for the test process: {e}"),
            });
            return;
        }
    };
    let wall = started.elapsed();
    let c = done_rx
        .recv_timeout(PIPE_DRAIN_TIMEOUT)
        .unwrap_or_else(|_| Captured {
            stderr: b"gantry: output incomplete: a process that left the test's process group kept its output open\n".to_vec(),
            ..Captured::default()
        });
    let _ = tx.send(Msg::Exited {
        unit: job.unit,
        exit,
        wall,
        stdout: c.stdout,
        stderr: c.stderr,
        unfinished: c.unfinished,
        captured: c.sections,
    });
}

/// What the pipe readers hand back when a process is done.
#[derive(Default)]
struct Captured {
    /// Stdout (single tests).
    stdout: Vec<u8>,
    /// Stderr (single tests).
    stderr: Vec<u8>,
    /// Batches: the test running at EOF, with its output so far.
    unfinished: Option<(usize, Vec<u8>)>,
    /// Batches: libtest's captured output per test position.
    sections: Vec<(usize, Vec<u8>)>,
}

/// Reads a batch's combined output, sending per-test messages as tests
/// start and finish. Returns the unattributed output and the test that was
/// running at EOF.
fn read_batch(
    mut pipe: std::io::PipeReader,
    names: &[String],
    unit: usize,
    tx: &Sender<Msg>,
) -> Captured {
    let pos: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut parser = BatchParser::new(names.iter().cloned());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let now = Instant::now();
        let events = parser.feed(&buf[..n], now);
        for e in events {
            match e {
                BatchEvent::Started { name, at } => {
                    let _ = tx.send(Msg::BatchTestStarted {
                        unit,
                        pos: pos[name.as_str()],
                        at,
                    });
                }
                BatchEvent::Finished {
                    name,
                    passed,
                    output,
                    started,
                    finished,
                } => {
                    let _ = tx.send(Msg::BatchTestFinished {
                        unit,
                        pos: pos[name.as_str()],
                        passed,
                        output,
                        duration: finished.duration_since(started),
                    });
                }
            }
        }
    }
    parser.finish();
    let unfinished = parser
        .take_unfinished()
        .map(|(name, out, _)| (pos[name.as_str()], out));
    let sections = parser
        .take_captured()
        .into_iter()
        .map(|(name, out)| (pos[name.as_str()], out))
        .collect();
    Captured {
        stdout: Vec::new(),
        stderr: Vec::new(),
        unfinished,
        sections,
    }
}
