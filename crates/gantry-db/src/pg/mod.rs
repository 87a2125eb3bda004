//! The PostgreSQL engine.

pub mod binaries;
pub mod cluster;
pub(crate) mod control;
pub(crate) mod pool;
pub mod server;
pub(crate) mod template;
