use serde::{Deserialize, Serialize};

/// How tests are put into processes.
///
/// `Process` isolates every test like cargo-nextest; `Batch` runs many tests
/// in one process like `cargo test` while still reporting each test on its
/// own; `Auto` chooses per test from what earlier runs taught.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionMode {
    /// One process per test.
    Process,
    /// Many tests per process; crashes and hangs are isolated by re-running.
    Batch,
    /// Batch what is known to be fast and safe, isolate the rest.
    #[default]
    Auto,
}

impl ExecutionMode {
    /// The spelling used in config files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Process => "process",
            Self::Batch => "batch",
            Self::Auto => "auto",
        }
    }
}

impl std::str::FromStr for ExecutionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "process" => Ok(Self::Process),
            "batch" => Ok(Self::Batch),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown execution mode `{other}`; expected process, batch or auto"
            )),
        }
    }
}

/// Which ignored tests to run, as `--run-ignored` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RunIgnored {
    /// Only tests that are not `#[ignore]`d.
    #[default]
    Default,
    /// Only `#[ignore]`d tests.
    Only,
    /// Both.
    All,
}

/// When the console shows a failing test's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FailureOutput {
    /// As soon as the test fails.
    Immediate,
    /// In one block after the run.
    #[default]
    Final,
    /// Both.
    ImmediateFinal,
    /// Never (logs are still written).
    Never,
}

impl FailureOutput {
    /// Whether output is shown when the test fails.
    pub fn immediate(self) -> bool {
        matches!(self, Self::Immediate | Self::ImmediateFinal)
    }
    /// Whether output is shown after the run.
    pub fn at_end(self) -> bool {
        matches!(self, Self::Final | Self::ImmediateFinal)
    }
}
