//! A stand-alone `RUSTC_WORKSPACE_WRAPPER` for coverage builds: cargo runs it
//! as `gantry-cover-rustc <rustc> <args…>` for workspace crates, and it
//! becomes rustc with `-C instrument-coverage --cfg=coverage` added. The
//! gantry CLI does the same from its own binary; this one serves builds that
//! do not go through it.

use std::io::Write;

fn main() {
    let err = gantry_cover::exec_rustc_wrapper(std::env::args_os());
    let _ = writeln!(std::io::stderr(), "gantry-cover-rustc: {err}");
    std::process::exit(101);
}
