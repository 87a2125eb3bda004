use serde::{Deserialize, Serialize};

/// Version of the `cargo gantry list --format json` document.
pub const TEST_LIST_FORMAT_VERSION: u32 = 1;

/// The whole list of test binaries and their tests, as printed by
/// `cargo gantry list --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestListSummary {
    /// Always [`TEST_LIST_FORMAT_VERSION`] for this schema.
    pub format_version: u32,
    /// Workspace root the binaries were built from.
    pub workspace_root: String,
    /// Number of tests that the filters selected.
    pub selected_count: usize,
    /// Number of tests in all listed binaries.
    pub test_count: usize,
    /// Binaries, sorted by binary id.
    pub binaries: Vec<BinarySummary>,
}

/// One test binary in a [`TestListSummary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinarySummary {
    /// Unique id: `pkg` for a lib, `pkg::name` for an integration test,
    /// `pkg::bin/name`, `pkg::example/name`, `pkg::bench/name` otherwise.
    pub binary_id: String,
    /// Package name.
    pub package: String,
    /// Target kind (`lib`, `bin`, `test`, `example`, `bench`, `proc-macro`).
    pub kind: String,
    /// Target name.
    pub name: String,
    /// Path of the executable.
    pub path: String,
    /// Directory the tests run in (the package directory).
    pub cwd: String,
    /// Tests in libtest's order.
    pub tests: Vec<TestSummary>,
}

/// One test in a [`BinarySummary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSummary {
    /// Full libtest name, e.g. `tests::parses`.
    pub name: String,
    /// Marked `#[ignore]`.
    pub ignored: bool,
    /// Selected by the filters given to `list`.
    pub selected: bool,
}
