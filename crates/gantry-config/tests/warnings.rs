//! Unknown keys and ineffective settings are warnings with file:line.

mod common;

use common::{ok, warnings};
use gantry_config::ConfigWarning;

#[test]
fn unknown_keys_everywhere_with_suggestions() {
    insta::assert_snapshot!(warnings(r#"
[profile.default]
retires = 2
colour = "always"

[[profile.default.overrides]]
filter = "all()"
slow_timeout = "1s"
retries = 1

[test-groups.serial]
max-threads = 1
max_thread = 2

[fixtures.db]
command = ["x"]

[fixture.echo]
command = ["echo"]
depends_on = []
ready = { tcp = "127.0.0.1:1", timout = "1s" }
stop = { signal = "TERM", grace_period = "1s" }

[tier]
a = "all()"
"#), @r#"
        .config/gantry.toml:2: unknown key `profile.default.retires` (did you mean `retries`?)
        .config/gantry.toml:3: unknown key `profile.default.colour`
        .config/gantry.toml:7: unknown key `profile.default.overrides[0].slow_timeout` (did you mean `slow-timeout`?)
        .config/gantry.toml:12: unknown key `test-groups.serial.max_thread` (did you mean `max-threads`?)
        .config/gantry.toml:14: unknown key `fixtures` (did you mean `fixture`?)
        .config/gantry.toml:19: unknown key `fixture.echo.depends_on` (did you mean `depends-on`?)
        .config/gantry.toml:20: unknown key `fixture.echo.ready.timout` (did you mean `timeout`?)
        .config/gantry.toml:21: unknown key `fixture.echo.stop.grace_period`
        .config/gantry.toml:23: unknown key `tier` (did you mean `tiers`?)
        "#);
}

#[test]
fn warning_fields() {
    // One leading newline is dropped by the helper, so the key is on line 3.
    let config = ok("\n\n[profile.ci]\nretires = 2\n");
    assert_eq!(
        config.warnings(),
        [ConfigWarning {
            path: ".config/gantry.toml".into(),
            line: 3,
            key: "profile.ci.retires".into(),
            message: "unknown key `profile.ci.retires` (did you mean `retries`?)".into(),
        }]
    );
    // The config is still usable: the unknown key is simply ignored.
    assert_eq!(config.profile("ci").unwrap().retries, 2);
}

#[test]
fn reserved_sections_accept_anything_silently() {
    let text = r#"
[database.main]
engine = "postgres"
anything = { goes = [1, 2] }

[ci]
steps = ["fmt"]

[cover]
exclude = "tests/"
"#;
    assert_eq!(warnings(text), "");
}

#[test]
fn settings_without_effect() {
    insta::assert_snapshot!(warnings(r#"
[[profile.default.overrides]]
filter = "test(x)"

[[profile.default.overrides]]
filter = "test(y)"
retires = 3

[fixture.db]
command = ["db"]
restart-limit = 5
"#), @r#"
        .config/gantry.toml:1: override `profile.default.overrides[0]` sets nothing besides its filter, so it has no effect
        .config/gantry.toml:4: override `profile.default.overrides[1]` sets nothing besides its filter, so it has no effect
        .config/gantry.toml:6: unknown key `profile.default.overrides[1].retires` (did you mean `retries`?)
        .config/gantry.toml:10: `fixture.db.restart-limit` has no effect unless restart = "on-failure"
        "#);
}

#[test]
fn warnings_are_sorted_by_line() {
    let config = ok(r#"
[fixture.a]
command = ["a"]
comand = ["b"]

[profile.default]
jbos = 1
"#);
    let lines: Vec<usize> = config.warnings().iter().map(|w| w.line).collect();
    assert_eq!(lines, [3, 6]);
}
