//! Merging raw profiles into one `.profdata`, during the run and at its end.
//!
//! Every instrumented process writes a raw profile at exit, as big as its
//! binary's counters (megabytes for a large test binary). A suite of ten
//! thousand process-per-test runs would leave gigabytes behind if they were
//! only merged at the end, so the merger folds finished files into the
//! accumulated profile in batches while the suite runs and deletes them.
//! A file is finished when the process named in it (`%p`) has exited; the
//! profile runtime writes the whole file at exit, so a dead writer means a
//! complete file (or a corrupt one, if it died while writing: those are
//! skipped with a warning, and the rest of the run still reports).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::error::CoverError;
use crate::session::{pid_of_profile, CoverPaths};
use crate::tools::{run_tool, LlvmTools};
use crate::warning::CoverWarning;

/// When the merger merges during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeOptions {
    /// Merge once this many finished raw profiles are waiting. Each merge
    /// rewrites the accumulated profile, so merging every file would cost
    /// more than it saves.
    pub batch_files: usize,
    /// Merge once the waiting files take this many bytes, whatever their
    /// number (large binaries write large profiles).
    pub batch_bytes: u64,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            batch_files: 64,
            batch_bytes: 256 << 20,
        }
    }
}

/// What merging produced.
#[derive(Clone, Debug, Default)]
pub struct MergeOutcome {
    /// The merged profile; `None` when no raw profile was ever merged.
    pub profdata: Option<PathBuf>,
    /// How many raw profiles were merged.
    pub merged_files: usize,
    /// Profiles that were skipped or are missing.
    pub warnings: Vec<CoverWarning>,
}

/// Merges the raw profiles of one run into its `.profdata`, incrementally.
///
/// The runner calls [`ProfileMerger::poke`] after each test process (cheap
/// when there is little to do) and [`ProfileMerger::finish`] when every
/// instrumented process, fixtures included, has exited. For a merge off the
/// runner's thread, see [`ProfileMerger::spawn`].
#[derive(Debug)]
pub struct ProfileMerger {
    tools: LlvmTools,
    profraw_dir: PathBuf,
    profdata: PathBuf,
    opts: MergeOptions,
    merged_files: usize,
    warnings: Vec<CoverWarning>,
    seen_pids: HashSet<u32>,
    saw_pooled: bool,
    expected: Vec<(u32, String)>,
}

impl ProfileMerger {
    /// A merger for a run's profile directory and merged profile. An
    /// existing merged profile is merged into, not replaced, so that
    /// `report` can add the profiles of processes started outside gantry.
    pub fn new(tools: LlvmTools, paths: &CoverPaths) -> Self {
        ProfileMerger {
            tools,
            profraw_dir: paths.profraw_dir.clone(),
            profdata: paths.profdata.clone(),
            opts: MergeOptions::default(),
            merged_files: 0,
            warnings: Vec::new(),
            seen_pids: HashSet::new(),
            saw_pooled: false,
            expected: Vec::new(),
        }
    }

    /// Sets the batch thresholds.
    pub fn with_options(mut self, opts: MergeOptions) -> Self {
        self.opts = opts;
        self
    }

    /// Records that process `pid` (described by `what`, e.g. `fixture
    /// echo-daemon`) should write a profile; [`ProfileMerger::finish`] warns
    /// if it did not (it crashed or was killed). Only meaningful with
    /// per-process file names.
    pub fn expect_profile(&mut self, pid: u32, what: impl Into<String>) {
        self.expected.push((pid, what.into()));
    }

    /// How many raw profiles have been merged so far.
    pub fn merged_files(&self) -> usize {
        self.merged_files
    }

    /// Merges the finished raw profiles if enough are waiting (see
    /// [`MergeOptions`]); returns how many were merged.
    pub fn poke(&mut self) -> Result<usize, CoverError> {
        let ready = self.finished_files()?;
        let bytes: u64 = ready.iter().map(|(_, len)| len).sum();
        if ready.len() >= self.opts.batch_files.max(1) || bytes >= self.opts.batch_bytes {
            self.merge_batch(ready)
        } else {
            Ok(0)
        }
    }

    /// Merges every finished raw profile now, however few.
    pub fn merge_finished(&mut self) -> Result<usize, CoverError> {
        let ready = self.finished_files()?;
        self.merge_batch(ready)
    }

    /// Merges every raw profile in the directory, including pooled ones and
    /// ones whose writer may still run. Only correct once no instrumented
    /// process is running.
    pub fn merge_all(&mut self) -> Result<usize, CoverError> {
        let all = self.raw_files()?;
        self.merge_batch(all)
    }

    /// Merges everything that is left and returns the merged profile and the
    /// warnings. Call it after every instrumented process has exited.
    pub fn finish(mut self) -> Result<MergeOutcome, CoverError> {
        self.merge_all()?;
        if !self.saw_pooled {
            for (pid, what) in std::mem::take(&mut self.expected) {
                if !self.seen_pids.contains(&pid) {
                    self.warnings
                        .push(CoverWarning::MissingProfile { pid, what });
                }
            }
        }
        let profdata = self.profdata.is_file().then(|| self.profdata.clone());
        if profdata.is_none() {
            self.warnings.push(CoverWarning::NoProfiles {
                dir: self.profraw_dir.clone(),
            });
        }
        Ok(MergeOutcome {
            profdata,
            merged_files: self.merged_files,
            warnings: self.warnings,
        })
    }

    /// Moves the merger to a thread of its own: merging takes the runner no
    /// time, and profiles are merged every `interval` (if given) besides
    /// whenever the runner pokes.
    pub fn spawn(self, interval: Option<Duration>) -> BackgroundMerger {
        let (tx, rx) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name("gantry-cover-merge".into())
            .spawn(move || background(self, rx, interval))
            .expect("spawning the merge thread");
        BackgroundMerger { tx, handle }
    }

    /// Raw profiles in the directory, with their sizes, by name.
    fn raw_files(&mut self) -> Result<Vec<(PathBuf, u64)>, CoverError> {
        let dir = &self.profraw_dir;
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(CoverError::io("could not read", dir)(e)),
        };
        let mut files: Vec<(PathBuf, u64)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "profraw"))
            .filter_map(|p| {
                let len = std::fs::metadata(&p).ok()?.len();
                Some((p, len))
            })
            .collect();
        files.sort();
        Ok(files)
    }

    /// Per-process raw profiles whose process has exited.
    fn finished_files(&mut self) -> Result<Vec<(PathBuf, u64)>, CoverError> {
        Ok(self
            .raw_files()?
            .into_iter()
            .filter(|(p, _)| pid_of_profile(p).is_some_and(|pid| !process_alive(pid)))
            .collect())
    }

    fn merge_batch(&mut self, files: Vec<(PathBuf, u64)>) -> Result<usize, CoverError> {
        if files.is_empty() {
            return Ok(0);
        }
        let mut inputs = Vec::new();
        for (path, len) in &files {
            match pid_of_profile(path) {
                Some(pid) => {
                    self.seen_pids.insert(pid);
                }
                None => self.saw_pooled = true,
            }
            if *len == 0 {
                self.warnings
                    .push(CoverWarning::EmptyProfile { path: path.clone() });
            } else {
                inputs.push(path.clone());
            }
        }
        let mut accumulated = Vec::new();
        if self.profdata.is_file() {
            accumulated.push(self.profdata.clone());
        }
        if !inputs.is_empty() {
            let tmp = self.profdata.with_extension("profdata.tmp");
            let warnings = merge_files(&self.tools, &accumulated, &inputs, &tmp)?;
            self.warnings.extend(warnings);
            std::fs::rename(&tmp, &self.profdata)
                .map_err(CoverError::io("could not replace", &self.profdata))?;
        }
        for (path, _) in &files {
            let _ = std::fs::remove_file(path);
        }
        self.merged_files += inputs.len();
        Ok(inputs.len())
    }
}

/// Whether a process exists (zombies included: their profile is written,
/// but they are about to be reaped, so waiting one more poke costs nothing).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks for the process's existence; no signal
    // is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Runs `llvm-profdata merge -sparse` on `trusted` (merged profiles, which
/// must be readable) and `raw` (raw profiles, which are skipped with a
/// warning when unreadable), writing `out`.
fn merge_files(
    tools: &LlvmTools,
    trusted: &[PathBuf],
    raw: &[PathBuf],
    out: &Path,
) -> Result<Vec<CoverWarning>, CoverError> {
    let list = out.with_extension("inputs");
    let mut text = String::new();
    for p in trusted.iter().chain(raw) {
        // An explicit weight, so that a comma in a path is not read as one.
        text.push_str("1,");
        text.push_str(&p.display().to_string());
        text.push('\n');
    }
    std::fs::write(&list, text).map_err(CoverError::io("could not write", &list))?;
    let args: Vec<OsString> = vec![
        "merge".into(),
        "-sparse".into(),
        "--failure-mode=warn".into(),
        format!("--input-files={}", list.display()).into(),
        "-o".into(),
        out.into(),
    ];
    let result = run_tool(&tools.profdata, &args);
    let _ = std::fs::remove_file(&list);
    let (_, stderr) = result?;
    let mut warnings = Vec::new();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("warning: ") else {
            continue;
        };
        if let Some(p) = trusted
            .iter()
            .find(|p| rest.starts_with(&format!("{}: ", p.display())))
        {
            let _ = std::fs::remove_file(out);
            return Err(CoverError::Tool {
                command: format!("{} merge", tools.profdata.display()),
                status: "unreadable input".into(),
                stderr: format!("{}: {}", p.display(), rest),
            });
        }
        if let Some(p) = raw
            .iter()
            .find(|p| rest.starts_with(&format!("{}: ", p.display())))
        {
            let reason = rest[p.display().to_string().len() + 2..].trim().to_string();
            warnings.push(CoverWarning::CorruptProfile {
                path: p.clone(),
                reason,
            });
        }
    }
    if !out.is_file() {
        return Err(CoverError::Tool {
            command: format!("{} merge", tools.profdata.display()),
            status: "no output".into(),
            stderr: stderr.trim().to_string(),
        });
    }
    Ok(warnings)
}

/// Merges the profiles of several runs or machines (`report --merge A B …`)
/// into `out`. Each input is a `.profdata` file, a raw profile, or a
/// directory holding either (such as another machine's
/// `target/gantry/cover`, or its `profraw` directory). Inputs are left in
/// place; unreadable raw profiles are skipped with a warning, an unreadable
/// `.profdata` is an error (it stands for a whole shard).
pub fn merge_inputs(
    tools: &LlvmTools,
    inputs: &[PathBuf],
    out: &Path,
) -> Result<Vec<CoverWarning>, CoverError> {
    let mut profdata = Vec::new();
    let mut raw = Vec::new();
    let mut warnings = Vec::new();
    for input in inputs {
        collect_profiles(input, &mut profdata, &mut raw, 0)?;
    }
    let mut nonempty = Vec::new();
    for p in raw {
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        if len == 0 {
            warnings.push(CoverWarning::EmptyProfile { path: p });
        } else {
            nonempty.push(p);
        }
    }
    if profdata.is_empty() && nonempty.is_empty() {
        let listed: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(CoverError::NoData(format!(
            "no .profdata or .profraw files in {}",
            listed.join(", ")
        )));
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(CoverError::io("could not create", parent))?;
    }
    warnings.extend(merge_files(tools, &profdata, &nonempty, out)?);
    Ok(warnings)
}

fn collect_profiles(
    input: &Path,
    profdata: &mut Vec<PathBuf>,
    raw: &mut Vec<PathBuf>,
    depth: usize,
) -> Result<(), CoverError> {
    let meta = std::fs::metadata(input).map_err(CoverError::io("could not read", input))?;
    if meta.is_file() {
        match input.extension().and_then(|e| e.to_str()) {
            Some("profraw") => raw.push(input.to_path_buf()),
            _ => profdata.push(input.to_path_buf()),
        }
        return Ok(());
    }
    // A directory: its profiles, and those of its `profraw` directory when it
    // is a whole `target/gantry/cover`. Not deeper: a cover target dir also
    // holds cargo's build output.
    let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(CoverError::io("could not read", input))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let ext = p.extension().and_then(|e| e.to_str());
        if p.is_file() && ext == Some("profraw") {
            raw.push(p);
        } else if p.is_file() && ext == Some("profdata") {
            profdata.push(p);
        } else if p.is_dir() && depth == 0 && p.file_name().is_some_and(|n| n == "profraw") {
            collect_profiles(&p, profdata, raw, depth + 1)?;
        }
    }
    Ok(())
}

/// A [`ProfileMerger`] on its own thread.
#[derive(Debug)]
pub struct BackgroundMerger {
    tx: mpsc::Sender<Msg>,
    handle: JoinHandle<Result<MergeOutcome, CoverError>>,
}

#[derive(Debug)]
enum Msg {
    Poke,
    Expect(u32, String),
    Finish,
}

impl BackgroundMerger {
    /// Asks for a merge of the finished profiles if enough are waiting;
    /// returns at once.
    pub fn poke(&self) {
        let _ = self.tx.send(Msg::Poke);
    }

    /// See [`ProfileMerger::expect_profile`].
    pub fn expect_profile(&self, pid: u32, what: impl Into<String>) {
        let _ = self.tx.send(Msg::Expect(pid, what.into()));
    }

    /// Waits for the thread to merge what is left. The first merge error of
    /// the run, if any, is returned here (the raw profiles it could not merge
    /// are kept and merged again).
    pub fn finish(self) -> Result<MergeOutcome, CoverError> {
        let _ = self.tx.send(Msg::Finish);
        self.handle.join().unwrap_or_else(|_| {
            Err(CoverError::NoData(
                "the profile merge thread panicked".into(),
            ))
        })
    }
}

fn background(
    mut merger: ProfileMerger,
    rx: mpsc::Receiver<Msg>,
    interval: Option<Duration>,
) -> Result<MergeOutcome, CoverError> {
    let mut first_error = None;
    loop {
        let msg = match interval {
            Some(i) => match rx.recv_timeout(i) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => Msg::Poke,
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(MergeOutcome::default()),
            },
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => return Ok(MergeOutcome::default()),
            },
        };
        // Pokes that queued up while merging need one merge, not many.
        let mut poke = false;
        let mut finish = false;
        for m in std::iter::once(msg).chain(rx.try_iter()) {
            match m {
                Msg::Poke => poke = true,
                Msg::Expect(pid, what) => merger.expect_profile(pid, what),
                Msg::Finish => finish = true,
            }
        }
        if finish {
            let outcome = merger.finish();
            return match first_error {
                Some(e) => Err(e),
                None => outcome,
            };
        }
        if poke && first_error.is_none() {
            if let Err(e) = merger.poke() {
                first_error = Some(e);
            }
        }
    }
}
