//! Runs a C program that leaks on purpose. It passes when run normally; run
//! under valgrind (`--leak-check=full --errors-for-leak-kinds=definite
//! --error-exitcode=1 --trace-children=yes`), the leak makes the program,
//! and so this test, fail. It shows that the leak check catches leaks.

mod support;

#[test]
fn leaky_c_program_runs() {
    let program = support::compile_c_program("leaky");
    let output = support::run(&program, &[]);
    assert!(
        output.status.success(),
        "leaky failed: {}",
        support::describe(&output)
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "leaky: got 3 replies and leaked them\n"
    );
}
