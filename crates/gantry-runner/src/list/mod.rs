//! Building test binaries and listing their tests.

pub mod build;
pub mod cache;
pub mod test_list;

pub use build::{build_tests, BuildOptions, BuildOutput};
pub use test_list::{binary_id, TestBinary, TestCase, TestList};
