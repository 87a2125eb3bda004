//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use gantry_metadata::{ExecutionMode, FailureOutput, RunIgnored};

/// `cargo gantry`: a test runner and CI harness for Rust workspaces.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-gantry",
    bin_name = "cargo gantry",
    version,
    about = "Fast, isolated test runs for Rust workspaces, with service fixtures and CI checks",
    after_help = "Exit codes: 0 ok, 1 internal error, 2 usage or config error, 4 no tests matched, \
100 tests failed, 101 build failed, 102 fixture or database setup failed, 103 gate failed, \
104 a test binary failed to list its tests, 130 interrupted."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Flags accepted by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// When to use colors.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, env = "GANTRY_COLOR")]
    pub color: ColorChoice,
    /// More detail on the console (passing tests, fixture events).
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the test binaries and list their tests.
    List(ListArgs),
    /// Build and run tests.
    Run(RunArgs),
    /// Print the effective configuration of a profile.
    ShowConfig(ShowConfigArgs),
    /// Run the project's checks (fmt, clippy, build, doc, test, audit, …) or generate CI pipelines.
    Ci(CiArgs),
    /// Measure coverage of the tests and of the services they drive.
    Cover(Box<CoverArgs>),
    /// The test database pools: status, a URL, stop the embedded server, clean up.
    Db(DbArgs),
    /// Pack the built test binaries into an archive that runs without cargo.
    Archive(ArchiveArgs),
    /// Combine the results of sharded runs (`run --results DIR`).
    Merge(MergeArgs),
    /// Work with the service fixtures of `.config/gantry.toml`.
    #[command(subcommand)]
    Fixture(FixtureCommand),
}

/// `cargo gantry fixture ...`.
#[derive(Debug, Subcommand)]
pub enum FixtureCommand {
    /// Start fixtures (and what they depend on) in the foreground, print
    /// their exported environment as `export K=V` lines, and stop them in
    /// reverse order on Ctrl-C or SIGTERM.
    Up(FixtureUpArgs),
}

#[derive(Debug, Args)]
pub struct FixtureUpArgs {
    /// The fixtures to start.
    #[arg(value_name = "NAME", required = true)]
    pub names: Vec<String>,
    #[command(flatten)]
    pub build: BuildArgs,
}

/// What to build: cargo's own flags, passed through.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Build options")]
pub struct BuildArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package(s) to test.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
    /// Test all packages in the workspace.
    #[arg(long)]
    pub workspace: bool,
    /// Exclude packages from the test.
    #[arg(long, value_name = "SPEC")]
    pub exclude: Vec<String>,
    /// Features to activate (comma or space separated).
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Activate all features.
    #[arg(long)]
    pub all_features: bool,
    /// Do not activate the `default` feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// Build in release mode.
    #[arg(long)]
    pub release: bool,
    /// Build with the given cargo profile.
    #[arg(long, value_name = "NAME")]
    pub cargo_profile: Option<String>,
    /// Directory for all generated artifacts.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Test only the library.
    #[arg(long)]
    pub lib: bool,
    /// Test all binaries.
    #[arg(long)]
    pub bins: bool,
    /// Test only the named binary.
    #[arg(long, value_name = "NAME")]
    pub bin: Vec<String>,
    /// Test all integration tests.
    #[arg(long)]
    pub tests: bool,
    /// Test only the named integration test.
    #[arg(long, value_name = "NAME")]
    pub test: Vec<String>,
    /// Test all examples.
    #[arg(long)]
    pub examples: bool,
    /// Require Cargo.lock to be up to date.
    #[arg(long)]
    pub locked: bool,
    /// Run without accessing the network.
    #[arg(long)]
    pub offline: bool,
    /// Require Cargo.lock and cache to be up to date.
    #[arg(long)]
    pub frozen: bool,
}

/// Which tests.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Filter options")]
pub struct FilterArgs {
    /// Run tests whose names contain one of these (like `cargo test`).
    #[arg(value_name = "FILTERS")]
    pub patterns: Vec<String>,
    /// Match FILTERS and --skip exactly.
    #[arg(long)]
    pub exact: bool,
    /// Skip tests whose names contain this.
    #[arg(long, value_name = "PATTERN")]
    pub skip: Vec<String>,
    /// Filter expression, e.g. `package(foo) & test(/parse/)` (repeatable: any may match).
    #[arg(short = 'E', long = "filter-expr", value_name = "EXPR")]
    pub filter_expr: Vec<String>,
    /// Run a named tier of tests from `[tiers]` in .config/gantry.toml.
    #[arg(long, value_name = "NAME")]
    pub tier: Option<String>,
    /// Which ignored tests to run.
    #[arg(long, value_enum, default_value_t = RunIgnoredArg::Default)]
    pub run_ignored: RunIgnoredArg,
    /// Run one shard: `count:M/N`, `hash:M/N` or `duration:M/N`.
    #[arg(long, value_name = "KIND:M/N")]
    pub partition: Option<String>,
    /// Arguments after `--`, read like libtest's: filters, `--exact`, `--skip NAME`, `--ignored`, `--include-ignored`.
    #[arg(last = true, value_name = "LIBTEST_ARGS")]
    pub libtest_args: Vec<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq, Default)]
pub enum RunIgnoredArg {
    #[default]
    Default,
    Only,
    All,
}

impl From<RunIgnoredArg> for RunIgnored {
    fn from(v: RunIgnoredArg) -> Self {
        match v {
            RunIgnoredArg::Default => RunIgnored::Default,
            RunIgnoredArg::Only => RunIgnored::Only,
            RunIgnoredArg::All => RunIgnored::All,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Human)]
    pub format: ListFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ListFormat {
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Configuration profile.
    #[arg(
        long,
        short = 'P',
        env = "GANTRY_PROFILE",
        default_value = "default",
        help_heading = "Run options"
    )]
    pub profile: String,
    /// Tests to run at once: a number or `auto`.
    #[arg(short = 'j', long, value_name = "N|auto", help_heading = "Run options")]
    pub jobs: Option<String>,
    /// One process per test, batches, or a choice per test from history.
    #[arg(long, value_name = "MODE", help_heading = "Run options")]
    pub execution: Option<ExecutionMode>,
    /// Retry failing tests this many times.
    #[arg(long, value_name = "N", help_heading = "Run options")]
    pub retries: Option<u32>,
    /// Stop starting tests after the first failure.
    #[arg(long, overrides_with = "no_fail_fast", help_heading = "Run options")]
    pub fail_fast: bool,
    /// Run every test whatever fails.
    #[arg(long, overrides_with = "fail_fast", help_heading = "Run options")]
    pub no_fail_fast: bool,
    /// Stop starting tests after N failures.
    #[arg(long, value_name = "N", help_heading = "Run options")]
    pub max_fail: Option<usize>,
    /// Also run doctests (with `cargo test --doc`) and report them with the rest.
    #[arg(long, help_heading = "Run options")]
    pub doc: bool,
    /// Let output through and run one test at a time.
    #[arg(long, alias = "nocapture", help_heading = "Run options")]
    pub no_capture: bool,
    /// When to show failing tests' output.
    #[arg(long, value_name = "WHEN", help_heading = "Reporting")]
    pub failure_output: Option<FailureOutputArg>,
    /// `human` on stderr, or `json`: events as JSON lines on stdout.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, help_heading = "Reporting")]
    pub message_format: MessageFormat,
    /// Also write events as JSON lines to this file.
    #[arg(long, value_name = "FILE", help_heading = "Reporting")]
    pub events: Option<PathBuf>,
    /// Run from an archive made by `cargo gantry archive` instead of building.
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Run options",
        requires = "workspace_remap"
    )]
    pub archive: Option<PathBuf>,
    /// With --archive: the directory holding the workspace's sources.
    #[arg(long, value_name = "DIR", help_heading = "Run options")]
    pub workspace_remap: Option<PathBuf>,
    /// Write events, JUnit, logs, durations and shard info to this directory (for `merge`).
    #[arg(long, value_name = "DIR", help_heading = "Reporting")]
    pub results: Option<PathBuf>,
    /// Write a JUnit XML report here.
    #[arg(long, value_name = "FILE", help_heading = "Reporting")]
    pub junit: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FailureOutputArg {
    Immediate,
    Final,
    ImmediateFinal,
    Never,
}

impl From<FailureOutputArg> for FailureOutput {
    fn from(v: FailureOutputArg) -> Self {
        match v {
            FailureOutputArg::Immediate => FailureOutput::Immediate,
            FailureOutputArg::Final => FailureOutput::Final,
            FailureOutputArg::ImmediateFinal => FailureOutput::ImmediateFinal,
            FailureOutputArg::Never => FailureOutput::Never,
        }
    }
}

#[derive(Debug, Args)]
pub struct ShowConfigArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Profile to show.
    #[arg(long, short = 'P', env = "GANTRY_PROFILE", default_value = "default")]
    pub profile: String,
}

/// `cargo gantry ci`.
#[derive(Debug, Args)]
pub struct CiArgs {
    #[command(subcommand)]
    pub command: Option<CiCommand>,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH", global = true)]
    pub manifest_path: Option<PathBuf>,
    /// Show the effective steps and what they run, then exit.
    #[arg(long)]
    pub list: bool,
    /// Run only these steps (comma separated, repeatable).
    #[arg(long, value_name = "NAME[,NAME]")]
    pub step: Vec<String>,
    /// Skip these steps.
    #[arg(long, value_name = "NAME[,NAME]")]
    pub skip: Vec<String>,
    /// Stop at the first failing step.
    #[arg(long)]
    pub fail_fast: bool,
    /// Base revision for `commit-format` (default: merge-base with the default branch).
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write a CI pipeline that calls `cargo gantry ci --step …` per job.
    Generate(GenerateArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// `github`, `gitlab` or `buildkite`.
    pub kind: String,
    /// Number of test shards.
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Where to write (default: the platform's usual path).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Only check that the file is up to date with the configuration.
    #[arg(long)]
    pub check: bool,
}

/// `cargo gantry archive`.
#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// The archive to write (`.tar.zst`).
    #[arg(
        short,
        long,
        value_name = "FILE",
        default_value = "target/gantry/archive.tar.zst"
    )]
    pub output: PathBuf,
}

/// `cargo gantry merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results directories written by `run --results DIR`.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Where to write the merged results.
    #[arg(
        short,
        long,
        value_name = "DIR",
        default_value = "target/gantry/results/merged"
    )]
    pub output: PathBuf,
}

/// `cargo gantry cover`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CoverArgs {
    #[command(subcommand)]
    pub command: Option<CoverCommand>,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// Where the coverage report goes.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Coverage report")]
pub struct ReportArgs {
    /// Write an LCOV file.
    #[arg(long, value_name = "FILE")]
    pub lcov: Option<PathBuf>,
    /// Write a Cobertura XML file (GitLab, SonarQube).
    #[arg(long, value_name = "FILE")]
    pub cobertura: Option<PathBuf>,
    /// Write an HTML report with annotated sources.
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Leave out source files matching this regex (repeatable; added to the defaults).
    #[arg(long, value_name = "REGEX")]
    pub ignore_filename_regex: Vec<String>,
    /// Count the sources of tests themselves (tests/, examples/, benches/) too.
    #[arg(long)]
    pub include_test_sources: bool,
}

/// The coverage ratchet.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Coverage gate")]
pub struct GateArgs {
    /// Fail (exit 103) unless line coverage is within the tolerance of the score in .config/gantry-coverage.toml.
    #[arg(long, conflicts_with = "update")]
    pub check: bool,
    /// Record the new score in .config/gantry-coverage.toml.
    #[arg(long)]
    pub update: bool,
    /// With --update: allow the score to go down.
    #[arg(long, requires = "update")]
    pub allow_lower: bool,
}

#[derive(Debug, Subcommand)]
pub enum CoverCommand {
    /// Print the environment that measures processes gantry does not start.
    Env(CoverEnvArgs),
    /// Report on the profiles collected so far, or on shards' profiles with --merge.
    Report(Box<CoverReportArgs>),
}

#[derive(Debug, Args)]
pub struct CoverEnvArgs {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CoverReportArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// Profile data to combine: .profdata files, .profraw files or directories of them.
    #[arg(long, num_args = 1.., value_name = "PATH")]
    pub merge: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    #[command(flatten)]
    pub gate: GateArgs,
}

/// `cargo gantry db`.
#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(subcommand)]
    pub command: DbCommand,
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH", global = true)]
    pub manifest_path: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Show the server, templates, pool sizes and leases.
    Status,
    /// Print a URL of a fresh copy of a database's template, to inspect by hand.
    Url {
        /// The `[database.NAME]` section.
        name: String,
    },
    /// Stop the embedded PostgreSQL server.
    Stop,
    /// Drop databases left behind by killed runs.
    Gc,
}
