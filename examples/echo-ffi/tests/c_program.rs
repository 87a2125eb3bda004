//! Runs the C test program, built against the static library.

mod support;

#[test]
fn c_program_passes() {
    let program = support::compile_c_program("test_echo");
    let output = support::run(&program, &[]);
    assert!(
        output.status.success(),
        "test_echo failed: {}",
        support::describe(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.starts_with("test_echo: all ") && stdout.contains("checks passed"),
        "unexpected output: {}",
        support::describe(&output)
    );
}
