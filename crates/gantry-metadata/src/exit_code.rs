/// The documented process exit codes of `cargo gantry`.
///
/// Scripts and CI systems branch on these, so they never change meaning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitCode;

impl ExitCode {
    /// Everything asked for succeeded.
    pub const OK: i32 = 0;
    /// A bug or an unexpected environment problem inside gantry.
    pub const INTERNAL_ERROR: i32 = 1;
    /// Bad command line, bad configuration, or an unknown profile/tier.
    pub const USAGE_ERROR: i32 = 2;
    /// The filters selected no test at all.
    pub const NO_TESTS_MATCHED: i32 = 4;
    /// At least one test failed or timed out.
    pub const TEST_FAILED: i32 = 100;
    /// `cargo` failed to build the test binaries (its output is shown).
    pub const BUILD_FAILED: i32 = 101;
    /// A fixture or test database could not be set up; no dependent test ran.
    pub const SETUP_FAILED: i32 = 102;
    /// A quality gate (coverage ratchet, benchmark, proof) failed.
    pub const GATE_FAILED: i32 = 103;
    /// A test binary could not list its tests.
    pub const LIST_FAILED: i32 = 104;
    /// The run was interrupted by Ctrl-C, SIGTERM or SIGHUP.
    pub const INTERRUPTED: i32 = 130;
}
