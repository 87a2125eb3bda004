//! JUnit XML, the format every CI server reads, via `quick-junit`: one
//! test case per test with its output; flaky tests carry `flakyFailure`
//! elements and failed retries `rerunFailure`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use gantry_metadata::{AttemptResult, Event, EventEnvelope, Outcome, TestStatus};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestRerun, TestSuite};

use crate::execute::output::read_output;
use crate::execute::EventSink;

/// Collects results and writes the XML file when the run finishes.
pub struct JunitReporter {
    path: PathBuf,
    suites: BTreeMap<String, Vec<TestCase>>,
    properties: Vec<(String, String)>,
    run_id: String,
    /// Set if writing the file failed.
    pub error: Option<String>,
}

impl JunitReporter {
    /// A reporter writing to `path` at the end of the run.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            suites: BTreeMap::new(),
            properties: Vec::new(),
            run_id: String::new(),
            error: None,
        }
    }

    fn write(&mut self, wall: f64) {
        let mut report = Report::new("gantry-run");
        if let Ok(uuid) = self.run_id.parse() {
            report.set_uuid(uuid);
        }
        report.set_time(Duration::from_secs_f64(wall));
        for (name, cases) in std::mem::take(&mut self.suites) {
            let mut suite = TestSuite::new(name);
            for (k, v) in &self.properties {
                suite.add_property(quick_junit::Property::new(k.clone(), v.clone()));
            }
            suite.add_test_cases(cases);
            report.add_test_suite(suite);
        }
        let result = (|| -> Result<(), String> {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            }
            let xml = report.to_string().map_err(|e| e.to_string())?;
            let tmp = self.path.with_extension("xml.tmp");
            std::fs::write(&tmp, xml).map_err(|e| e.to_string())?;
            std::fs::rename(&tmp, &self.path).map_err(|e| e.to_string())
        })();
        if let Err(e) = result {
            self.error = Some(format!(
                "could not write JUnit file `{}`: {e}",
                self.path.display()
            ));
        }
    }
}

fn kind(outcome: Outcome) -> NonSuccessKind {
    match outcome {
        Outcome::Pass | Outcome::Fail | Outcome::Timeout => NonSuccessKind::Failure,
    }
}

fn rerun(a: &AttemptResult) -> TestRerun {
    let mut r = TestRerun::new(kind(a.outcome));
    r.set_time(Duration::from_secs_f64(a.duration_secs));
    if let Some(m) = &a.message {
        r.set_message(m.clone());
    }
    let out = read_output(a.output.stdout.as_deref());
    let err = read_output(a.output.stderr.as_deref());
    r.set_system_out_lossy(out.as_bytes());
    r.set_system_err_lossy(err.as_bytes());
    r
}

impl EventSink for JunitReporter {
    fn emit(&mut self, ev: &EventEnvelope) {
        match &ev.event {
            Event::RunStarted { run_id, .. } => self.run_id = run_id.clone(),
            Event::FixtureReady {
                name,
                instance,
                startup_secs,
            } => self.properties.push((
                format!("fixture.{name}.{instance}.startup-secs"),
                format!("{startup_secs:.3}"),
            )),
            Event::FixtureStopped {
                name,
                instance,
                uptime_secs,
                how,
            } => self.properties.push((
                format!("fixture.{name}.{instance}.stopped"),
                format!("{how} after {uptime_secs:.3}s"),
            )),
            Event::TestFinished {
                id,
                status,
                result,
                failed_attempts,
                ..
            } => {
                let status = match status {
                    TestStatus::Passed => TestCaseStatus::success(),
                    TestStatus::Flaky => {
                        let mut s = TestCaseStatus::success();
                        s.add_reruns(failed_attempts.iter().map(rerun));
                        s
                    }
                    TestStatus::Failed | TestStatus::TimedOut => {
                        let mut s = TestCaseStatus::non_success(kind(result.outcome));
                        let message = result.message.clone().unwrap_or_else(|| "failed".into());
                        s.set_message(message);
                        if *status == TestStatus::TimedOut {
                            s.set_type("timeout");
                        }
                        s.add_reruns(failed_attempts.iter().map(rerun));
                        s
                    }
                };
                let mut case = TestCase::new(id.name.clone(), status);
                case.set_classname(id.binary_id.clone());
                case.set_time(Duration::from_secs_f64(result.duration_secs));
                let out = read_output(result.output.stdout.as_deref());
                let err = read_output(result.output.stderr.as_deref());
                case.set_system_out_lossy(out.as_bytes());
                case.set_system_err_lossy(err.as_bytes());
                self.suites
                    .entry(id.binary_id.clone())
                    .or_default()
                    .push(case);
            }
            Event::RunFinished { summary } => self.write(summary.wall_secs),
            _ => {}
        }
    }
}
