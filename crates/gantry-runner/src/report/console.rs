//! The human reporter: a progress bar on a terminal, one line per test
//! that needs attention, failure output, and the closing summary line.

use std::io::Write;

use gantry_metadata::{
    AttemptResult, Event, EventEnvelope, FailureOutput, Outcome, RunSummary, TestId, TestStatus,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::{OwoColorize, Style};

use crate::execute::output::read_output;
use crate::execute::EventSink;

/// How the console reporter behaves.
#[derive(Clone, Debug)]
pub struct ConsoleOptions {
    /// Use ANSI colors.
    pub color: bool,
    /// Draw a progress bar (only on a terminal).
    pub progress: bool,
    /// When to show failing tests' output.
    pub failure_output: FailureOutput,
    /// Also show passing tests and more detail.
    pub verbose: bool,
}

/// Renders events for people.
pub struct ConsoleReporter {
    out: Box<dyn Write + Send>,
    opts: ConsoleOptions,
    bar: Option<ProgressBar>,
    failed: Vec<(TestId, TestStatus, AttemptResult)>,
    flaky: Vec<(TestId, u32)>,
    isolated_passes: Vec<TestId>,
    /// Where the output of a failure in a batch went, for tests re-run alone.
    batch_output: Vec<(TestId, String)>,
}

fn secs(s: f64) -> String {
    format!("[{s:>8.3}s]")
}

impl ConsoleReporter {
    /// A reporter writing to `out` (gantry writes it to stderr).
    pub fn new(out: Box<dyn Write + Send>, opts: ConsoleOptions) -> Self {
        Self {
            out,
            opts,
            bar: None,
            failed: Vec::new(),
            flaky: Vec::new(),
            isolated_passes: Vec::new(),
            batch_output: Vec::new(),
        }
    }

    fn st(&self, s: Style) -> Style {
        if self.opts.color {
            s
        } else {
            Style::new()
        }
    }

    fn line(&mut self, text: String) {
        match &self.bar {
            Some(bar) => bar.suspend(|| {
                let _ = writeln!(self.out, "{text}");
            }),
            None => {
                let _ = writeln!(self.out, "{text}");
            }
        }
    }

    fn status_line(
        &self,
        label: &str,
        style: Style,
        time: f64,
        id: &TestId,
        extra: &str,
    ) -> String {
        let label = format!("{label:>12}");
        let id_text = format!(
            "{} {}",
            id.binary_id.style(self.st(Style::new().magenta().bold())),
            id.name.style(self.st(Style::new().blue().bold()))
        );
        format!(
            "{} {} {id_text}{extra}",
            label.style(self.st(style.bold())),
            secs(time)
        )
    }

    fn output_block(&mut self, id: &TestId, result: &AttemptResult) {
        for (stream, path) in [
            ("STDOUT", &result.output.stdout),
            ("STDERR", &result.output.stderr),
        ] {
            let text = read_output(path.as_deref());
            if text.is_empty() {
                continue;
            }
            let header = format!("--- {stream}: {id} ---");
            let header = header.style(self.st(Style::new().red())).to_string();
            self.line(header);
            let body = text.trim_end_matches('\n').to_string();
            self.line(body);
        }
    }

    fn finished(&mut self, id: &TestId, status: TestStatus, attempts: u32, result: &AttemptResult) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        let note = match (&result.message, result.isolated) {
            (Some(m), true) => format!(" ({m}; isolated from its batch)"),
            (Some(m), false) => format!(" ({m})"),
            (None, true) => " (isolated from its batch)".to_string(),
            (None, false) => String::new(),
        };
        match status {
            TestStatus::Passed => {
                if result.isolated {
                    self.isolated_passes.push(id.clone());
                }
                if self.opts.verbose {
                    let l = self.status_line(
                        "PASS",
                        Style::new().green(),
                        result.duration_secs,
                        id,
                        &note,
                    );
                    self.line(l);
                }
            }
            TestStatus::Flaky => {
                self.flaky.push((id.clone(), attempts));
                let label = format!("FLAKY {attempts}/{attempts}");
                let l =
                    self.status_line(&label, Style::new().yellow(), result.duration_secs, id, "");
                self.line(l);
            }
            TestStatus::Failed | TestStatus::TimedOut => {
                let (label, style) = if status == TestStatus::TimedOut {
                    ("TIMEOUT", Style::new().red())
                } else {
                    ("FAIL", Style::new().red())
                };
                let label = if attempts > 1 {
                    format!("{label} {attempts}/{attempts}")
                } else {
                    label.to_string()
                };
                let l = self.status_line(&label, style, result.duration_secs, id, &note);
                self.line(l);
                if self.opts.failure_output.immediate() {
                    self.output_block(id, result);
                }
                self.failed.push((id.clone(), status, result.clone()));
            }
        }
    }

    fn summary(&mut self, s: &RunSummary) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.opts.failure_output.at_end() && !self.failed.is_empty() {
            let failed = std::mem::take(&mut self.failed);
            for (id, _, result) in &failed {
                self.output_block(id, result);
            }
            self.failed = failed;
        }
        let rule = "────────────".to_string();
        self.line(rule);
        let run = s.passed + s.failed + s.flaky + s.timed_out;
        let mut detail = format!(
            "{run} tests run: {} passed, {} flaky, {} failed, {} timed out, {} skipped",
            s.passed,
            s.flaky,
            s.failed,
            s.timed_out,
            s.skipped + s.not_run
        );
        if s.not_run > 0 {
            detail.push_str(&format!(" ({} not run)", s.not_run));
        }
        if let Some(sig) = &s.interrupted {
            detail.push_str(&format!("; interrupted by {sig}"));
        }
        let label = format!("{:>12}", "Summary");
        let l = format!(
            "{} {} {detail}",
            label.style(self.st(Style::new().bold())),
            secs(s.wall_secs)
        );
        self.line(l);
        let failed = std::mem::take(&mut self.failed);
        for (id, status, result) in &failed {
            let label = if *status == TestStatus::TimedOut {
                "TIMEOUT"
            } else {
                "FAIL"
            };
            let l = self.status_line(label, Style::new().red(), result.duration_secs, id, "");
            self.line(l);
        }
        for (id, attempts) in std::mem::take(&mut self.flaky) {
            let l = self.status_line(
                &format!("FLAKY {attempts}/{attempts}"),
                Style::new().yellow(),
                0.0,
                &id,
                "",
            );
            self.line(l.replace(&secs(0.0), &" ".repeat(secs(0.0).len())));
        }
        for id in std::mem::take(&mut self.isolated_passes) {
            let saved = self
                .batch_output
                .iter()
                .rev()
                .find(|(i, path)| *i == id && std::path::Path::new(path).exists())
                .map(|(_, path)| format!("; its output in the batch: {path}"))
                .unwrap_or_default();
            let note = format!(
                " (failed or crashed in a batch, passed alone: it shares state with other tests and runs alone until it has passed {} runs in a row{saved})",
                crate::schedule::history::BATCH_AGAIN_AFTER
            );
            let l = self.status_line("ISOLATED", Style::new().cyan(), 0.0, &id, &note);
            self.line(l.replace(&secs(0.0), &" ".repeat(secs(0.0).len())));
        }
        let closing = s.closing_line();
        self.line(closing);
    }
}

impl EventSink for ConsoleReporter {
    fn emit(&mut self, ev: &EventEnvelope) {
        match &ev.event {
            Event::RunStarted {
                selected,
                skipped,
                jobs,
                profile,
                ..
            } => {
                let label = format!("{:>12}", "Starting");
                let l = format!(
                    "{} {selected} tests ({skipped} skipped), profile {profile}, {jobs} jobs",
                    label.style(self.st(Style::new().green().bold()))
                );
                self.line(l);
                if self.opts.progress {
                    let bar = ProgressBar::with_draw_target(
                        Some(*selected as u64),
                        ProgressDrawTarget::stderr(),
                    );
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{prefix:>12.bold} [{elapsed_precise:>9}] {wide_bar} {pos}/{len}: {msg}",
                        )
                        .expect("valid template")
                        .progress_chars("=> "),
                    );
                    bar.set_prefix("Running");
                    bar.enable_steady_tick(std::time::Duration::from_millis(100));
                    self.bar = Some(bar);
                }
            }
            Event::TestStarted { id, .. } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(id.name.clone());
                }
            }
            Event::TestSlow {
                id,
                running_secs,
                will_terminate,
                ..
            } => {
                let label = if *will_terminate {
                    "TERMINATING"
                } else {
                    "SLOW"
                };
                let l = self.status_line(label, Style::new().yellow(), *running_secs, id, "");
                self.line(l.replacen("[ ", "[>", 1));
            }
            Event::TestRetry { id, failed } => {
                let what = match failed.outcome {
                    Outcome::Timeout => "TIMEOUT",
                    _ => "FAIL",
                };
                let note = failed
                    .message
                    .as_ref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default();
                let label = format!("RETRY {}", failed.attempt + 1);
                let l = self.status_line(
                    &label,
                    Style::new().magenta(),
                    failed.duration_secs,
                    id,
                    &format!(" after {what}{note}"),
                );
                self.line(l);
            }
            Event::TestIsolating { id, reason, output } => {
                if let Some(path) = &output.stdout {
                    self.batch_output.push((id.clone(), path.clone()));
                }
                if self.opts.verbose {
                    let l = self.status_line(
                        "ISOLATE",
                        Style::new().cyan(),
                        0.0,
                        id,
                        &format!(" ({reason})"),
                    );
                    self.line(l);
                }
            }
            Event::TestFinished {
                id,
                status,
                attempts,
                result,
                ..
            } => self.finished(id, *status, *attempts, result),
            Event::RunCancelling { reason } => {
                let label = format!("{:>12}", "Cancelling");
                let l = format!(
                    "{} due to {reason}: no new tests start",
                    label.style(self.st(Style::new().yellow().bold()))
                );
                self.line(l);
            }
            Event::FixtureStarted {
                name,
                instance,
                pid,
            } => {
                if self.opts.verbose {
                    let pid = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
                    let l = format!("{:>12} fixture {name} [{instance}]{pid}", "Starting");
                    self.line(l);
                }
            }
            Event::FixtureReady {
                name,
                instance,
                startup_secs,
            } => {
                let label = format!("{:>12}", "Ready");
                let l = format!(
                    "{} {} fixture {name} [{instance}]",
                    label.style(self.st(Style::new().green().bold())),
                    secs(*startup_secs)
                );
                self.line(l);
            }
            Event::FixtureStopped {
                name,
                instance,
                uptime_secs,
                how,
            } => {
                if self.opts.verbose {
                    let l = format!(
                        "{:>12} {} fixture {name} [{instance}]: {how}",
                        "Stopped",
                        secs(*uptime_secs)
                    );
                    self.line(l);
                }
            }
            Event::RunFinished { summary } => self.summary(summary),
            Event::TestSkipped { .. } => {}
        }
    }
}
