//! Choosing, ordering and grouping the tests to run.

pub mod history;
pub mod partition;
pub mod plan;

pub use history::{History, Observation, TestRecord};
pub use partition::{Partition, PartitionKind};
pub use plan::{plan_units, PlannedTest, Unit, UnitTest};
