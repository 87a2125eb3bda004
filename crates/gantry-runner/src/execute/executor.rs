//! The scheduler: starts units as capacity allows, watches timeouts,
//! isolates batch problems, retries, cancels, and emits one event for
//! everything that happens. It never prints.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use gantry_config::Jobs;
use gantry_metadata::{
    AttemptResult, Event, EventEnvelope, ExitCode, Outcome, OutputPaths, RunSummary, SkipReason,
    TestId, TestStatus,
};
use nix::sys::signal::Signal;

use super::output;
use super::process::{signal_name, ExitInfo, GroupHandle};
use super::worker::{self, Job, Msg};
use crate::schedule::{History, Observation, PlannedTest, Unit, UnitTest};

/// Receives every event of a run, in order.
pub trait EventSink {
    /// Handles one event.
    fn emit(&mut self, event: &EventEnvelope);
}

/// Why [`UnitHooks::before_unit`] could not prepare a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookError {
    /// The failure message of the unit's tests or, when `fatal`, the reason
    /// the run is cancelled.
    pub message: String,
    /// The run cannot go on (a fixture failed to start): the unit's tests
    /// do not run, no other unit starts, and the exit code is
    /// [`ExitCode::SETUP_FAILED`]. When false, only the unit's tests fail.
    pub fatal: bool,
    /// The hook gave up because gantry received a signal; the run then ends
    /// as interrupted rather than failed.
    pub interrupted: bool,
}

impl HookError {
    /// An error that fails the unit's tests with `message`.
    pub fn tests_fail(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: false,
            interrupted: false,
        }
    }

    /// An error that stops the run.
    pub fn fatal(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            fatal: true,
            interrupted: false,
        }
    }

    /// The hook was interrupted by a signal.
    pub fn interrupted() -> Self {
        Self {
            message: "interrupted".into(),
            fatal: true,
            interrupted: true,
        }
    }
}

/// Supplies extra environment for a unit just before it starts, and is told
/// when units end, when tests finish and when the run is over. Fixtures and
/// databases hook in here.
///
/// Every method gets `emit`, through which the hook adds events (fixture
/// started, ready, stopped) to the run's stream in order with the rest.
/// `before_unit` may block (while services start); the others should not.
pub trait UnitHooks {
    /// Environment for the unit's process, or an error that fails its
    /// tests or the whole run.
    fn before_unit(
        &mut self,
        _tests: &[&PlannedTest],
        _emit: &mut dyn FnMut(Event),
    ) -> Result<Vec<(String, String)>, HookError> {
        Ok(Vec::new())
    }
    /// Called once for every `before_unit` call, when the unit's process
    /// has ended (or did not start), before its tests' results are final.
    fn after_unit(&mut self, _tests: &[&PlannedTest], _emit: &mut dyn FnMut(Event)) {}
    /// Called once per test when it has reached its final status.
    fn test_done(&mut self, _test: &PlannedTest, _emit: &mut dyn FnMut(Event)) {}
    /// Called once when no test runs any more, however the run ended
    /// (before `run-finished` is emitted): the place to tear down.
    fn run_finished(&mut self, _emit: &mut dyn FnMut(Event)) {}
    /// Whether the test needs a process of its own because what
    /// `before_unit` gives it (a database, a fresh service) is per test.
    fn needs_own_process(&self, _test: &crate::list::TestCase) -> bool {
        false
    }
}

/// Sends a hook's event to the sink, stamped like the executor's own.
fn emit_to(sink: &mut dyn EventSink, start: Instant, event: Event) {
    sink.emit(&EventEnvelope {
        elapsed_secs: start.elapsed().as_secs_f64(),
        event,
    });
}

/// Hooks that do nothing.
pub struct NoHooks;
impl UnitHooks for NoHooks {}

/// Run-wide options of the executor.
#[derive(Clone, Debug)]
pub struct ExecuteOptions {
    /// The run id.
    pub run_id: String,
    /// Where per-test output goes.
    pub run_dir: PathBuf,
    /// Profile name (for the run-started event).
    pub profile: String,
    /// Concurrency.
    pub jobs: Jobs,
    /// Stop after the first failure.
    pub fail_fast: bool,
    /// Stop after this many failures.
    pub max_fail: Option<usize>,
    /// Whether flaky tests fail the run.
    pub flaky_fails: bool,
    /// Pass output through; one test at a time.
    pub no_capture: bool,
    /// Max concurrency per test group.
    pub test_groups: BTreeMap<String, usize>,
    /// Tests not run (filtered, ignored), reported as skipped.
    pub skipped: Vec<(TestId, SkipReason)>,
    /// Grace period after forwarding a signal on interruption.
    pub interrupt_grace: Duration,
    /// Results obtained outside the scheduler (doctests, run by
    /// `cargo test --doc`), reported and counted with the others.
    pub external: Vec<(TestId, AttemptResult)>,
    /// Environment added to every test process.
    pub extra_env: Vec<(String, String)>,
}

struct Running {
    unit: Unit,
    group: Option<GroupHandle>,
    /// Test running now (position in the unit) and since when.
    current: Option<(usize, Instant)>,
    slow_periods: u32,
    term_sent: Option<Instant>,
    timed_out: Option<usize>,
    done: Vec<bool>,
    cancel_after_current: bool,
    killed_for_cancel: bool,
    /// Batch tests libtest reported passed; final only once the batch's
    /// exit status agrees (a test can print a fake `ok` or trailer).
    pending_passes: Vec<(UnitTest, AttemptResult)>,
    /// Batch tests libtest reported failed (re-run alone).
    reported_failures: usize,
    /// Batch output libtest captured per test position, known at exit.
    captured: Vec<(usize, Vec<u8>)>,
    /// Tests that failed here and are re-run alone, by position, with the
    /// file their captured output goes to at exit.
    isolated_failures: Vec<(usize, PathBuf)>,
    /// When the batch last started or finished a test.
    idle_since: Instant,
    /// The batch was killed for hanging outside any test.
    idle_killed: bool,
}

#[derive(Default)]
struct TestState {
    failed_attempts: Vec<AttemptResult>,
    finished: bool,
    started: bool,
}

/// Schedules and runs `units` of `tests`, emitting events to `sink`, and
/// records what it learned in `history`.
pub struct Executor<'a> {
    tests: &'a [PlannedTest],
    opts: ExecuteOptions,
    sink: &'a mut dyn EventSink,
    hooks: &'a mut dyn UnitHooks,
    history: &'a mut History,
    start: Instant,
    queue: VecDeque<Unit>,
    running: HashMap<usize, Running>,
    next_unit_id: usize,
    state: Vec<TestState>,
    summary: RunSummary,
    failures: usize,
    cancelled: bool,
    interrupt_deadline: Option<Instant>,
    /// A hook failed fatally (fixture setup): exit code SETUP_FAILED.
    setup_failed: bool,
    /// A hook gave up on a signal the loop may not have seen yet.
    hook_interrupted: bool,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    capacity: usize,
    auto_jobs: bool,
}

impl<'a> Executor<'a> {
    /// Prepares a run.
    pub fn new(
        tests: &'a [PlannedTest],
        units: Vec<Unit>,
        opts: ExecuteOptions,
        sink: &'a mut dyn EventSink,
        hooks: &'a mut dyn UnitHooks,
        history: &'a mut History,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (capacity, auto_jobs) = match opts.jobs {
            _ if opts.no_capture => (1, false),
            Jobs::Auto => (cores, true),
            Jobs::Fixed(n) => (n.max(1), false),
        };
        Self {
            state: (0..tests.len()).map(|_| TestState::default()).collect(),
            tests,
            summary: RunSummary {
                run_id: opts.run_id.clone(),
                skipped: opts.skipped.len(),
                ..Default::default()
            },
            opts,
            sink,
            hooks,
            history,
            start: Instant::now(),
            queue: units.into(),
            running: HashMap::new(),
            next_unit_id: 0,
            failures: 0,
            cancelled: false,
            interrupt_deadline: None,
            setup_failed: false,
            hook_interrupted: false,
            tx,
            rx,
            capacity,
            auto_jobs,
        }
    }

    /// A sender for messages to the scheduler (used to forward signals).
    pub fn sender(&self) -> Sender<Msg> {
        self.tx.clone()
    }

    fn emit(&mut self, event: Event) {
        let env = EventEnvelope {
            elapsed_secs: self.start.elapsed().as_secs_f64(),
            event,
        };
        self.sink.emit(&env);
    }

    /// Runs everything and returns the summary.
    pub fn run(mut self) -> RunSummary {
        self.emit(Event::RunStarted {
            format_version: gantry_metadata::EVENT_FORMAT_VERSION,
            run_id: self.opts.run_id.clone(),
            profile: self.opts.profile.clone(),
            selected: self.tests.len() + self.opts.external.len(),
            skipped: self.opts.skipped.len(),
            jobs: self.capacity,
        });
        for (id, result) in std::mem::take(&mut self.opts.external) {
            let status = if result.outcome == Outcome::Pass {
                self.summary.passed += 1;
                TestStatus::Passed
            } else {
                self.summary.failed += 1;
                TestStatus::Failed
            };
            self.emit(Event::TestFinished {
                id,
                status,
                attempts: 1,
                result,
                failed_attempts: Vec::new(),
            });
        }
        for (id, reason) in std::mem::take(&mut self.opts.skipped) {
            self.emit(Event::TestSkipped { id, reason });
        }
        // A signal that came before the run (while tests were listed, say)
        // is waiting here: it cancels the run before anything starts.
        while let Ok(msg) = self.rx.try_recv() {
            self.handle(msg);
        }
        loop {
            self.start_units();
            if self.running.is_empty() && (self.queue.is_empty() || self.cancelled) {
                break;
            }
            let timeout = self.next_tick();
            match self.rx.recv_timeout(timeout) {
                Ok(msg) => self.handle(msg),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            // Drain whatever else arrived before looking at the clock.
            while let Ok(msg) = self.rx.try_recv() {
                self.handle(msg);
            }
            self.check_timeouts();
        }
        self.finish()
    }

    fn finish(mut self) -> RunSummary {
        {
            let (sink, start) = (&mut *self.sink, self.start);
            self.hooks
                .run_finished(&mut |event| emit_to(sink, start, event));
        }
        if self.hook_interrupted && self.summary.interrupted.is_none() {
            // The signal that stopped a hook is on its way (or was just
            // handled by the forwarder): report the run as interrupted.
            let deadline = Instant::now() + Duration::from_secs(2);
            while let Ok(msg) = self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                if let Msg::Signal(sig) = msg {
                    self.interrupt(sig);
                    break;
                }
            }
        }
        let never_run: Vec<usize> = (0..self.tests.len())
            .filter(|&i| !self.state[i].finished)
            .collect();
        for i in never_run {
            self.summary.not_run += 1;
            let id = self.tests[i].case.id();
            self.emit(Event::TestSkipped {
                id,
                reason: SkipReason::Cancelled,
            });
        }
        self.summary.wall_secs = self.start.elapsed().as_secs_f64();
        self.summary.exit_code = if self.summary.interrupted.is_some() {
            ExitCode::INTERRUPTED
        } else if self.setup_failed {
            ExitCode::SETUP_FAILED
        } else if self.summary.failed + self.summary.timed_out > 0
            || (self.opts.flaky_fails && self.summary.flaky > 0)
        {
            ExitCode::TEST_FAILED
        } else {
            ExitCode::OK
        };
        let summary = self.summary.clone();
        self.emit(Event::RunFinished {
            summary: summary.clone(),
        });
        summary
    }

    fn next_tick(&self) -> Duration {
        let now = Instant::now();
        let mut next = now + Duration::from_millis(500);
        for r in self.running.values() {
            if let Some(t) = r.term_sent {
                let grace = self
                    .unit_settings(&r.unit, r.current.map_or(0, |c| c.0))
                    .grace_period;
                next = next.min(t + grace);
            } else if let Some((pos, since)) = r.current {
                let s = self.unit_settings(&r.unit, pos);
                next = next.min(since + s.slow_timeout * (r.slow_periods + 1));
            }
        }
        if let Some(d) = self.interrupt_deadline {
            next = next.min(d);
        }
        next.saturating_duration_since(now)
            .max(Duration::from_millis(1))
    }

    fn unit_settings(&self, unit: &Unit, pos: usize) -> &gantry_config::TestSettings {
        &self.tests[unit.tests[pos.min(unit.tests.len() - 1)].index].settings
    }

    // ---- admission ---------------------------------------------------

    fn load(&self) -> (f64, usize) {
        let mut cpu = 0.0;
        let mut slots = 0;
        for r in self.running.values() {
            cpu += r.unit.cpu_weight;
            slots += r.unit.threads_required;
        }
        (cpu, slots)
    }

    fn fits(&self, unit: &Unit) -> bool {
        if self.running.is_empty() {
            return true;
        }
        if let Some(g) = &unit.test_group {
            let max = self.opts.test_groups.get(g).copied().unwrap_or(usize::MAX);
            let in_group = self
                .running
                .values()
                .filter(|r| r.unit.test_group.as_deref() == Some(g))
                .count();
            if in_group >= max {
                return false;
            }
        }
        let (cpu, slots) = self.load();
        if self.auto_jobs {
            // Tests that mostly wait (sleeps, I/O) take little CPU: admit
            // more of them, as long as the cores stay busy but not
            // oversubscribed. A hard cap keeps a suite of sleepers from
            // starting thousands of processes.
            cpu + unit.cpu_weight <= self.capacity as f64 + 0.05
                && self.running.len() < self.capacity * 16
        } else {
            slots + unit.threads_required <= self.capacity
        }
    }

    fn start_units(&mut self) {
        if self.interrupt_deadline.is_some() {
            return;
        }
        loop {
            let pick = self
                .queue
                .iter()
                .position(|u| (!self.cancelled || u.isolating) && self.fits(u));
            let Some(pos) = pick else { break };
            let unit = self.queue.remove(pos).expect("position is valid");
            self.spawn(unit);
        }
    }

    fn spawn(&mut self, unit: Unit) {
        let id = self.next_unit_id;
        self.next_unit_id += 1;
        let tests = self.tests;
        let planned: Vec<&PlannedTest> = unit.tests.iter().map(|t| &tests[t.index]).collect();
        let hook_env = {
            let (sink, start) = (&mut *self.sink, self.start);
            self.hooks
                .before_unit(&planned, &mut |event| emit_to(sink, start, event))
        };
        if let Err(e) = &hook_env {
            if e.fatal {
                self.hook_ended(&planned);
                if e.interrupted {
                    // The signal's own message cancels the run and
                    // reports it; until then, start nothing.
                    self.cancelled = true;
                    self.hook_interrupted = true;
                } else {
                    self.setup_failed = true;
                    if !self.cancelled {
                        self.cancel(e.message.clone());
                    }
                }
                // The unit's tests stay not run.
                return;
            }
        }
        let names: Vec<String> = planned.iter().map(|t| t.case.name.clone()).collect();
        let include_ignored = planned.iter().any(|t| t.case.ignored);
        let attempt = unit.tests[0].attempt;
        for t in unit.tests.clone() {
            self.state[t.index].started = true;
            if !unit.batch {
                let id = self.tests[t.index].case.id();
                self.emit(Event::TestStarted {
                    id,
                    attempt: t.attempt,
                    in_batch: false,
                });
            }
        }
        let mut running = Running {
            done: vec![false; unit.tests.len()],
            current: (!unit.batch).then(|| (0, Instant::now())),
            unit,
            group: None,
            slow_periods: 0,
            term_sent: None,
            timed_out: None,
            cancel_after_current: false,
            killed_for_cancel: false,
            pending_passes: Vec::new(),
            reported_failures: 0,
            captured: Vec::new(),
            isolated_failures: Vec::new(),
            idle_since: Instant::now(),
            idle_killed: false,
        };
        let env = match hook_env {
            Ok(env) => env,
            Err(HookError { message, .. }) => {
                // Setup for these tests failed: each fails with the reason.
                self.hook_ended(&planned);
                self.fail_unit(&running.unit, &message);
                return;
            }
        };
        let mut job_env = vec![
            ("GANTRY".to_string(), "1".to_string()),
            ("GANTRY_RUN_ID".to_string(), self.opts.run_id.clone()),
            ("GANTRY_ATTEMPT".to_string(), attempt.to_string()),
        ];
        job_env.extend(self.opts.extra_env.iter().cloned());
        job_env.extend(env);
        let job = Job {
            unit: id,
            binary: running.unit.binary.clone(),
            names,
            batch: running.unit.batch,
            include_ignored,
            wrapper: running.unit.wrapper.clone(),
            env: job_env,
            no_capture: self.opts.no_capture,
        };
        running.current = running.current.map(|(p, _)| (p, Instant::now()));
        self.running.insert(id, running);
        let tx = self.tx.clone();
        std::thread::spawn(move || worker::run(job, tx));
    }

    /// Tells the hooks that a unit's process ended.
    fn unit_ended(&mut self, unit: &Unit) {
        let tests = self.tests;
        let planned: Vec<&PlannedTest> = unit.tests.iter().map(|t| &tests[t.index]).collect();
        self.hook_ended(&planned);
    }

    fn hook_ended(&mut self, planned: &[&PlannedTest]) {
        let (sink, start) = (&mut *self.sink, self.start);
        self.hooks
            .after_unit(planned, &mut |event| emit_to(sink, start, event));
    }

    // ---- messages ----------------------------------------------------

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Signal(sig) => self.interrupt(sig),
            Msg::Started { unit, group } => {
                if let Some(r) = self.running.get_mut(&unit) {
                    if self.interrupt_deadline.is_some() {
                        group.signal(Signal::SIGKILL);
                    }
                    r.group = Some(group);
                }
            }
            Msg::SpawnFailed { unit, error } => {
                if let Some(r) = self.running.remove(&unit) {
                    self.unit_ended(&r.unit);
                    self.fail_unit(&r.unit, &error);
                }
            }
            Msg::BatchTestStarted { unit, pos, at } => {
                let Some(r) = self.running.get_mut(&unit) else {
                    return;
                };
                r.current = Some((pos, at));
                r.slow_periods = 0;
                let t = r.unit.tests[pos];
                let id = self.tests[t.index].case.id();
                self.emit(Event::TestStarted {
                    id,
                    attempt: t.attempt,
                    in_batch: true,
                });
            }
            Msg::BatchTestFinished {
                unit,
                pos,
                passed,
                output,
                duration,
            } => self.batch_test_finished(unit, pos, passed, output, duration),
            Msg::Exited {
                unit,
                exit,
                wall,
                stdout,
                stderr,
                unfinished,
                captured,
            } => {
                if let Some(r) = self.running.get_mut(&unit) {
                    r.captured = captured;
                }
                self.unit_exited(unit, exit, wall, stdout, stderr, unfinished)
            }
        }
    }

    fn batch_test_finished(
        &mut self,
        unit: usize,
        pos: usize,
        passed: bool,
        output: Vec<u8>,
        duration: Duration,
    ) {
        let Some(r) = self.running.get_mut(&unit) else {
            return;
        };
        if r.killed_for_cancel || r.done[pos] {
            return;
        }
        r.done[pos] = true;
        r.idle_since = Instant::now();
        if r.current.is_some_and(|c| c.0 == pos) {
            r.current = None;
        }
        let t = r.unit.tests[pos];
        let cancel_now = r.cancel_after_current;
        let unit_clone = r.unit.clone();
        if cancel_now {
            r.killed_for_cancel = true;
            if let Some(g) = &r.group {
                g.signal(Signal::SIGKILL);
            }
        }
        let test = &self.tests[t.index];
        if passed {
            let paths = output::write_attempt(
                &self.opts.run_dir,
                &test.case.binary.binary_id,
                &test.case.name,
                t.attempt,
                &output,
                None,
            );
            let mut result = self.result(t, Outcome::Pass, None, duration, None, true, &unit_clone);
            result.exit_code = Some(0);
            result.output = paths;
            if let Some(r) = self.running.get_mut(&unit) {
                r.pending_passes.push((t, result));
            }
        } else {
            // The re-run alone writes the attempt's files: what the test
            // printed here goes beside them (libtest's captured part comes
            // when the batch ends).
            let path = output::in_batch_path(
                &self.opts.run_dir,
                &test.case.binary.binary_id,
                &test.case.name,
                t.attempt,
            );
            output::append_in_batch(&path, &output);
            if let Some(r) = self.running.get_mut(&unit) {
                r.reported_failures += 1;
                r.isolated_failures.push((pos, path.clone()));
            }
            // Never report a failure that process-per-test would not:
            // re-run the test alone first.
            let id = test.case.id();
            self.emit(Event::TestIsolating {
                id,
                reason: "failed in a batch; re-running it alone".into(),
                output: OutputPaths {
                    stdout: Some(path.display().to_string()),
                    stderr: None,
                },
            });
            self.queue
                .push_front(Unit::single(self.tests, t.index, t.attempt, true));
        }
    }

    /// Fails every test of a unit that never ran, with the reason.
    fn fail_unit(&mut self, unit: &Unit, message: &str) {
        for &t in &unit.tests {
            let mut result = self.result(t, Outcome::Fail, None, Duration::ZERO, None, false, unit);
            result.message = Some(message.to_string());
            self.finish_attempt(t, result, false);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn result(
        &self,
        t: UnitTest,
        outcome: Outcome,
        exit: Option<&ExitInfo>,
        duration: Duration,
        cpu: Option<Duration>,
        in_batch: bool,
        unit: &Unit,
    ) -> AttemptResult {
        AttemptResult {
            attempt: t.attempt,
            outcome,
            exit_code: exit.and_then(|e| e.code),
            signal: exit.and_then(|e| e.signal),
            duration_secs: duration.as_secs_f64(),
            cpu_secs: cpu.map(|c| c.as_secs_f64()),
            in_batch,
            isolated: unit.isolating,
            message: None,
            output: OutputPaths::default(),
        }
    }

    fn unit_exited(
        &mut self,
        unit_id: usize,
        exit: ExitInfo,
        wall: Duration,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        unfinished: Option<(usize, Vec<u8>)>,
    ) {
        let Some(r) = self.running.remove(&unit_id) else {
            return;
        };
        self.unit_ended(&r.unit);
        if r.unit.batch {
            self.batch_exited(r, exit, wall, unfinished);
            return;
        }
        let t = r.unit.tests[0];
        if self.interrupt_deadline.is_some() && r.timed_out.is_none() && !exit.success() {
            // Killed by the interruption: not a result.
            return;
        }
        let test = &self.tests[t.index];
        let name = &test.case.name;
        let stdout_text = String::from_utf8_lossy(&stdout);
        let (outcome, message) = if r.timed_out.is_some() {
            (
                Outcome::Timeout,
                Some(format!(
                    "timed out after {}",
                    humantime::format_duration(round_secs(wall))
                )),
            )
        } else if let Some(sig) = exit.signal {
            (Outcome::Fail, Some(signal_message(sig)))
        } else if exit.code == Some(0) {
            if self.opts.no_capture || ran_exactly_one(&stdout_text, name) {
                (Outcome::Pass, None)
            } else {
                (
                    Outcome::Fail,
                    Some(format!(
                        "the test binary ran no test named `{name}` (was it renamed or removed since the list was made?)"
                    )),
                )
            }
        } else {
            let stderr_text = String::from_utf8_lossy(&stderr);
            let msg = match exit.code {
                Some(101) if stderr_text.contains("panicked at") => "panicked".to_string(),
                Some(101) => "failed".to_string(),
                Some(c) => format!("exited with code {c}"),
                None => "ended abnormally".to_string(),
            };
            (Outcome::Fail, Some(msg))
        };
        // A quiet passing test printed nothing of its own: no files, as
        // in a batch (thousands of them cost time to write and to prune).
        let quiet =
            outcome == Outcome::Pass && stderr.is_empty() && only_libtest_lines(&stdout_text, name);
        let paths = if quiet {
            OutputPaths::default()
        } else {
            output::write_attempt(
                &self.opts.run_dir,
                &test.case.binary.binary_id,
                name,
                t.attempt,
                &stdout,
                Some(&stderr),
            )
        };
        let mut result = self.result(
            t,
            outcome,
            Some(&exit),
            wall,
            Some(exit.cpu),
            false,
            &r.unit,
        );
        result.message = message;
        result.output = paths;
        let isolation_sensitive = r.unit.isolating && outcome == Outcome::Pass;
        self.finish_attempt(t, result, isolation_sensitive);
    }

    fn batch_exited(
        &mut self,
        r: Running,
        exit: ExitInfo,
        wall: Duration,
        unfinished: Option<(usize, Vec<u8>)>,
    ) {
        let cpu_ratio = if wall.as_secs_f64() > 0.0 {
            Some((exit.cpu.as_secs_f64() / wall.as_secs_f64()).clamp(0.0, 1.0))
        } else {
            None
        };
        // Teach the history how much CPU this batch's tests use: the batch
        // ran them one after another, so its ratio is theirs.
        if let Some(ratio) = cpu_ratio {
            for (pos, t) in r.unit.tests.iter().enumerate() {
                if r.done[pos] {
                    let case = &self.tests[t.index].case;
                    self.history
                        .set_cpu_ratio(&case.binary.binary_id, &case.name, ratio);
                }
            }
        }
        let mut r = r;
        let in_flight = r.timed_out.or(unfinished.as_ref().map(|u| u.0));
        let all_done = r.done.iter().all(|d| *d);
        // libtest exits 0 when every test passed and 101 when one failed;
        // anything else after all tests "finished" means the reports
        // cannot be trusted (a test printed a fake result, or the process
        // failed after its tests, e.g. in a destructor).
        let consistent = !all_done
            || match exit.code {
                Some(0) => r.reported_failures == 0,
                Some(101) => r.reported_failures > 0,
                _ => false,
            };
        let pending = std::mem::take(&mut r.pending_passes);
        let mut captured: HashMap<usize, Vec<u8>> = std::mem::take(&mut r.captured)
            .into_iter()
            .map(|(pos, out)| (r.unit.tests[pos].index, out))
            .collect();
        for (pos, path) in std::mem::take(&mut r.isolated_failures) {
            if let Some(out) = captured.remove(&r.unit.tests[pos].index) {
                output::append_in_batch(&path, &out);
            }
        }
        if consistent {
            for (t, mut result) in pending {
                if let Some(extra) = captured.get(&t.index) {
                    // Output that reached the pipe during the test comes
                    // first, then what libtest captured.
                    let mut all = result
                        .output
                        .stdout
                        .as_ref()
                        .and_then(|p| std::fs::read(p).ok())
                        .unwrap_or_default();
                    all.extend_from_slice(extra);
                    let case = &self.tests[t.index].case;
                    result.output = output::write_attempt(
                        &self.opts.run_dir,
                        &case.binary.binary_id,
                        &case.name,
                        t.attempt,
                        &all,
                        None,
                    );
                }
                self.finish_attempt(t, result, false);
            }
        } else {
            for (t, _) in pending {
                let id = self.tests[t.index].case.id();
                self.emit(Event::TestIsolating {
                    id,
                    reason: format!(
                        "its batch exited with {} although libtest reported {} failures; re-running it alone",
                        exit.code.map_or_else(|| "a signal".to_string(), |c| format!("code {c}")),
                        r.reported_failures
                    ),
                    output: OutputPaths::default(),
                });
                self.queue
                    .push_front(Unit::single(self.tests, t.index, t.attempt, false));
            }
        }
        if r.killed_for_cancel || (self.interrupt_deadline.is_some() && r.timed_out.is_none()) {
            return; // Unfinished tests stay not-run.
        }
        let how = if r.timed_out.is_some() {
            "timed out in a batch".to_string()
        } else if let Some(sig) = exit.signal {
            format!("its batch process was killed by {}", signal_name(sig))
        } else {
            format!(
                "its batch process exited with code {} before the test finished",
                exit.code.unwrap_or(-1)
            )
        };
        let mut never_started = Vec::new();
        for (pos, t) in r.unit.tests.iter().enumerate() {
            if r.done[pos] {
                continue;
            }
            if Some(pos) == in_flight {
                let id = self.tests[t.index].case.id();
                self.emit(Event::TestIsolating {
                    id,
                    reason: format!("{how}; re-running it alone"),
                    output: OutputPaths::default(),
                });
                self.queue
                    .push_front(Unit::single(self.tests, t.index, t.attempt, true));
            } else {
                never_started.push(t.index);
            }
        }
        if never_started.is_empty() {
            return;
        }
        if in_flight.is_some() && never_started.len() > 1 && !r.idle_killed {
            // They never ran: nothing is known against them. Back into a
            // batch of their own.
            let unit = Unit::batch_of(self.tests, &never_started);
            self.queue.push_front(unit);
        } else {
            // The batch ended cleanly but skipped tests (or only one is
            // left): run each alone so a missing test gets a clear message.
            // They never ran in the batch, so nothing blames them.
            for i in never_started {
                self.queue.push_front(Unit::single(self.tests, i, 1, false));
            }
        }
    }

    fn finish_attempt(&mut self, t: UnitTest, result: AttemptResult, isolation_sensitive: bool) {
        let test = &self.tests[t.index];
        let id = test.case.id();
        let failed = result.outcome != Outcome::Pass;
        if failed
            && t.attempt <= test.settings.retries
            && !self.cancelled
            && self.interrupt_deadline.is_none()
        {
            self.state[t.index].failed_attempts.push(result.clone());
            self.emit(Event::TestRetry { id, failed: result });
            self.queue
                .push_front(Unit::single(self.tests, t.index, t.attempt + 1, false));
            return;
        }
        let failed_attempts = std::mem::take(&mut self.state[t.index].failed_attempts);
        let status = match result.outcome {
            Outcome::Pass if failed_attempts.is_empty() => TestStatus::Passed,
            Outcome::Pass => TestStatus::Flaky,
            Outcome::Fail => TestStatus::Failed,
            Outcome::Timeout => TestStatus::TimedOut,
        };
        match status {
            TestStatus::Passed => self.summary.passed += 1,
            TestStatus::Flaky => self.summary.flaky += 1,
            TestStatus::Failed => self.summary.failed += 1,
            TestStatus::TimedOut => self.summary.timed_out += 1,
        }
        self.state[t.index].finished = true;
        let cpu_ratio = match (result.cpu_secs, result.in_batch) {
            (Some(cpu), false) if result.duration_secs > 0.0 => {
                Some((cpu / result.duration_secs).clamp(0.0, 1.0))
            }
            _ => None,
        };
        self.history.record(
            &test.case.binary.binary_id,
            &test.case.name,
            &Observation {
                duration: Duration::from_secs_f64(result.duration_secs),
                cpu_ratio,
                failed: status.is_failure(),
                isolation_sensitive,
            },
        );
        {
            let (sink, start) = (&mut *self.sink, self.start);
            self.hooks
                .test_done(test, &mut |event| emit_to(sink, start, event));
        }
        self.emit(Event::TestFinished {
            id,
            status,
            attempts: t.attempt,
            result,
            failed_attempts,
        });
        if status.is_failure() || (self.opts.flaky_fails && status == TestStatus::Flaky) {
            self.failures += 1;
            let max_fail = if self.opts.fail_fast {
                Some(1)
            } else {
                self.opts.max_fail
            };
            if max_fail.is_some_and(|m| self.failures >= m) && !self.cancelled {
                let reason = if self.opts.fail_fast {
                    "fail-fast"
                } else {
                    "max-fail"
                };
                self.cancel(reason.to_string());
            }
        }
    }

    fn cancel(&mut self, reason: String) {
        self.cancelled = true;
        self.emit(Event::RunCancelling { reason });
        for r in self.running.values_mut() {
            if r.unit.batch {
                r.cancel_after_current = true;
            }
        }
    }

    fn interrupt(&mut self, sig: i32) {
        let signal = Signal::try_from(sig).unwrap_or(Signal::SIGTERM);
        if self.interrupt_deadline.is_some() {
            // A second signal: no more waiting.
            for r in self.running.values() {
                if let Some(g) = &r.group {
                    g.signal(Signal::SIGKILL);
                }
            }
            return;
        }
        self.summary.interrupted = Some(signal.as_str().to_string());
        self.cancel(format!("signal {}", signal.as_str()));
        self.interrupt_deadline = Some(Instant::now() + self.opts.interrupt_grace);
        for r in self.running.values() {
            if let Some(g) = &r.group {
                g.signal(signal);
            }
        }
    }

    // ---- timeouts ----------------------------------------------------

    fn check_timeouts(&mut self) {
        let now = Instant::now();
        if let Some(deadline) = self.interrupt_deadline {
            if now >= deadline {
                for r in self.running.values() {
                    if let Some(g) = &r.group {
                        g.signal(Signal::SIGKILL);
                    }
                }
            }
        }
        let mut events = Vec::new();
        for r in self.running.values_mut() {
            // The test running now, or for a batch between tests (starting
            // up, or exiting after the last test) the next one due.
            let pos = r
                .current
                .map(|c| c.0)
                .or_else(|| r.done.iter().position(|d| !d))
                .unwrap_or(0);
            let t = r.unit.tests[pos];
            let settings = &self.tests[t.index].settings;
            if let Some(term) = r.term_sent {
                if now >= term + settings.grace_period {
                    if let Some(g) = &r.group {
                        g.signal(Signal::SIGKILL);
                    }
                }
                continue;
            }
            let Some((pos, since)) = r.current else {
                // A batch stuck outside any test (in static initialisers,
                // or in destructors after the last test) is killed after
                // the time a test would get; its tests then run alone.
                let limit = settings.terminate_after.map(|n| settings.slow_timeout * n);
                if r.unit.batch && limit.is_some_and(|l| now >= r.idle_since + l) {
                    r.idle_killed = true;
                    r.term_sent = Some(now);
                    if let Some(g) = &r.group {
                        g.signal(Signal::SIGTERM);
                    }
                }
                continue;
            };
            let next_slow = since + settings.slow_timeout * (r.slow_periods + 1);
            if now < next_slow {
                continue;
            }
            r.slow_periods += 1;
            let terminate = settings
                .terminate_after
                .is_some_and(|n| r.slow_periods >= n);
            events.push(Event::TestSlow {
                id: self.tests[t.index].case.id(),
                attempt: t.attempt,
                running_secs: now.duration_since(since).as_secs_f64(),
                will_terminate: terminate,
            });
            if terminate {
                r.timed_out = Some(pos);
                r.term_sent = Some(now);
                if let Some(g) = &r.group {
                    g.signal(Signal::SIGTERM);
                }
            }
        }
        for e in events {
            self.emit(e);
        }
    }
}

fn round_secs(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64 / 100 * 100)
}

/// Whether libtest's output shows that exactly the named test ran.
fn ran_exactly_one(stdout: &str, name: &str) -> bool {
    stdout.contains("running 1 test") || stdout.contains(&format!("test {name} ... ok"))
}

/// Whether a passing test's stdout is only what libtest prints around one
/// test that printed nothing.
fn only_libtest_lines(stdout: &str, name: &str) -> bool {
    let mut lines = stdout.lines().filter(|l| !l.is_empty());
    lines.next() == Some("running 1 test")
        && lines.next() == Some(format!("test {name} ... ok").as_str())
        && lines
            .next()
            .is_some_and(|l| l.starts_with("test result: ok. 1 passed;"))
        && lines.next().is_none()
}

fn signal_message(sig: i32) -> String {
    let name = signal_name(sig);
    match sig {
        libc::SIGABRT => format!("aborted ({name})"),
        libc::SIGSEGV | libc::SIGBUS => format!("crashed ({name})"),
        _ => format!("killed by {name}"),
    }
}
