//! Splits the output of a batch process into per-test results.
//!
//! A batch runs `<bin> --exact --show-output --test-threads=1 NAME…` with
//! stdout and stderr on one pipe. libtest then prints `test NAME ... `
//! before each test and the result word (`ok`, `FAILED`) after it; one test
//! runs at a time, so whatever reaches the pipe between two markers (output
//! of child processes, direct writes to the file descriptors) belongs to
//! the first test, and the marker tells which test is running right now
//! (for timeouts and crash attribution). What the test printed with
//! `print!`/`eprint!` libtest captures in memory — cheap even for tests
//! that print millions of lines — and prints after the last test in
//! `---- NAME stdout ----` sections, which are collected here too.

use std::collections::HashSet;
use std::time::Instant;

/// What the parser learned from a chunk of output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchEvent {
    /// The named test started.
    Started {
        /// Test name.
        name: String,
        /// When its marker arrived.
        at: Instant,
    },
    /// The named test finished.
    Finished {
        /// Test name.
        name: String,
        /// Whether libtest reported it passed.
        passed: bool,
        /// Its output (stdout and stderr interleaved), result word removed.
        output: Vec<u8>,
        /// When it started.
        started: Instant,
        /// When it finished.
        finished: Instant,
    },
}

/// Incremental parser of libtest's pretty output with one test thread.
#[derive(Debug)]
pub struct BatchParser {
    expected: HashSet<String>,
    started: HashSet<String>,
    current: Option<(String, Vec<u8>, Instant)>,
    partial: Vec<u8>,
    in_trailer: bool,
    /// Captured output sections from the trailer, by test name.
    captured: std::collections::HashMap<String, Vec<u8>>,
    /// The section being read, and its output so far.
    section: Option<(String, Vec<u8>)>,
}

const MARKER_PREFIX: &[u8] = b"test ";
const MARKER_SEP: &[u8] = b" ... ";
const SHOULD_PANIC: &str = " - should panic";

impl BatchParser {
    /// A parser expecting these test names.
    pub fn new<I: IntoIterator<Item = String>>(expected: I) -> Self {
        Self {
            expected: expected.into_iter().collect(),
            started: HashSet::new(),
            current: None,
            partial: Vec::new(),
            in_trailer: false,
            captured: std::collections::HashMap::new(),
            section: None,
        }
    }

    /// The test running now, if any.
    pub fn current(&self) -> Option<&str> {
        self.current.as_ref().map(|(n, _, _)| n.as_str())
    }

    /// Feeds a chunk of output read at `now`.
    pub fn feed(&mut self, data: &[u8], now: Instant) -> Vec<BatchEvent> {
        let mut events = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let (piece, complete) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => (&rest[..=i], true),
                None => (rest, false),
            };
            rest = &rest[piece.len()..];
            if self.in_trailer {
                // Captured sections can be huge: no copy per line.
                if complete && self.partial.is_empty() {
                    self.trailer_line(piece);
                } else {
                    self.partial.extend_from_slice(piece);
                    if complete {
                        let line = std::mem::take(&mut self.partial);
                        self.trailer_line(&line);
                    }
                }
                continue;
            }
            self.partial.extend_from_slice(piece);
            if let Some((name, marker_len)) = self.marker() {
                self.finish_current(now, &mut events);
                self.started.insert(name.clone());
                let after = self.partial.split_off(marker_len);
                self.partial.clear();
                events.push(BatchEvent::Started {
                    name: name.clone(),
                    at: now,
                });
                self.current = Some((name, Vec::new(), now));
                // What followed the marker on the same line is the test's
                // output; keep it pending until its line ends.
                self.partial = after;
                if complete {
                    self.flush_line();
                }
                continue;
            }
            if complete {
                if self.is_trailer_line() {
                    self.partial.clear();
                    self.finish_current(now, &mut events);
                    self.in_trailer = true;
                } else {
                    self.flush_line();
                }
            }
        }
        events
    }

    /// Ends the stream (the process exited). A test still running is not
    /// reported finished, even if its output ends like a result: libtest
    /// always prints its `test result:` trailer when it completes, so a
    /// missing trailer means the process died, and the caller isolates the
    /// test that was running.
    pub fn finish(&mut self) {
        if !self.partial.is_empty() {
            self.flush_line();
        }
    }

    /// The output libtest captured for each test that printed something,
    /// from the sections after the last test.
    pub fn take_captured(&mut self) -> std::collections::HashMap<String, Vec<u8>> {
        self.close_section();
        let mut captured = std::mem::take(&mut self.captured);
        for out in captured.values_mut() {
            // libtest ends each section with a separator newline.
            while out.ends_with(b"\n") {
                out.pop();
            }
            out.push(b'\n');
        }
        captured
    }

    fn trailer_line(&mut self, line: &[u8]) {
        if line.starts_with(b"---- ")
            || line.ends_with(b":\n")
            || line.starts_with(b"test result: ")
        {
            if let Some(name) = line
                .strip_prefix(b"---- ")
                .and_then(|l| l.strip_suffix(b" stdout ----\n"))
                .and_then(|n| std::str::from_utf8(n).ok())
                .filter(|n| self.expected.contains(*n))
            {
                self.close_section();
                self.section = Some((name.to_string(), Vec::new()));
                return;
            }
            if line == b"successes:\n"
                || line == b"failures:\n"
                || line.starts_with(b"test result: ")
            {
                self.close_section();
                return;
            }
        }
        if let Some((_, out)) = &mut self.section {
            out.extend_from_slice(line);
        }
    }

    fn close_section(&mut self) {
        if let Some((name, out)) = self.section.take() {
            self.captured.insert(name, out);
        }
    }

    /// Output of the test that was running when the stream ended, if any.
    pub fn take_unfinished(&mut self) -> Option<(String, Vec<u8>, Instant)> {
        self.current.take()
    }

    fn flush_line(&mut self) {
        if let Some((_, out, _)) = &mut self.current {
            out.extend_from_slice(&self.partial);
        }
        self.partial.clear();
    }

    fn marker(&self) -> Option<(String, usize)> {
        let line = &self.partial;
        if !line.starts_with(MARKER_PREFIX) {
            return None;
        }
        let body = &line[MARKER_PREFIX.len()..];
        let sep = body
            .windows(MARKER_SEP.len())
            .position(|w| w == MARKER_SEP)?;
        let name = std::str::from_utf8(&body[..sep]).ok()?;
        // `#[should_panic]` tests are announced as `test NAME - should panic ... `.
        let name = name.strip_suffix(SHOULD_PANIC).unwrap_or(name);
        if !self.expected.contains(name) || self.started.contains(name) {
            return None;
        }
        Some((
            name.to_string(),
            MARKER_PREFIX.len() + sep + MARKER_SEP.len(),
        ))
    }

    fn is_trailer_line(&self) -> bool {
        // libtest prints its summary only after the last test; until every
        // test has started, a "summary" is some test's own output.
        if self.started.len() < self.expected.len() {
            return false;
        }
        let line = &self.partial;
        let Some((_, out, _)) = &self.current else {
            return false;
        };
        let after_result = out.ends_with(b"\n\n") || out.ends_with(b"\n");
        (line.as_slice() == b"failures:\n"
            || line.as_slice() == b"successes:\n"
            || line.starts_with(b"test result: "))
            && after_result
            && split_result(out).is_some()
    }

    fn finish_current(&mut self, now: Instant, events: &mut Vec<BatchEvent>) {
        let Some((name, out, started)) = self.current.take() else {
            return;
        };
        let (body_len, passed) = split_result(&out).unwrap_or((out.len(), false));
        let mut output = out;
        output.truncate(body_len);
        events.push(BatchEvent::Finished {
            name,
            passed,
            output,
            started,
            finished: now,
        });
    }
}

/// Finds the result word at the end of a test's output: returns the length
/// of the output before it and whether it says the test passed.
fn split_result(out: &[u8]) -> Option<(usize, bool)> {
    let mut end = out.len();
    let mut newlines = 0;
    while end > 0 && out[end - 1] == b'\n' && newlines < 2 {
        end -= 1;
        newlines += 1;
    }
    if newlines == 0 {
        return None;
    }
    let trimmed = &out[..end];
    for (word, passed) in [(&b"ok"[..], true), (&b"FAILED"[..], false)] {
        if trimmed.ends_with(word) {
            return Some((end - word.len(), passed));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finished `(name, passed, output)`, started names, and the test left running.
    type Parsed = (Vec<(String, bool, String)>, Vec<String>, Option<String>);

    fn run(chunks: &[&str], names: &[&str]) -> Parsed {
        let mut p = BatchParser::new(names.iter().map(|s| s.to_string()));
        let now = Instant::now();
        let mut events = Vec::new();
        for c in chunks {
            events.extend(p.feed(c.as_bytes(), now));
        }
        p.finish();
        let mut finished = Vec::new();
        let mut started = Vec::new();
        for e in events {
            match e {
                BatchEvent::Started { name, .. } => started.push(name),
                BatchEvent::Finished {
                    name,
                    passed,
                    output,
                    ..
                } => finished.push((name, passed, String::from_utf8(output).unwrap())),
            }
        }
        (finished, started, p.take_unfinished().map(|c| c.0))
    }

    #[test]
    fn splits_tests_results_and_output() {
        let out = "\nrunning 3 tests\ntest a ... hello\nok\ntest b ... thread 'b' panicked at x.rs:1:1:\nboom\nFAILED\ntest c ... no newline hereok\n\nfailures:\n    b\n\ntest result: FAILED. 2 passed; 1 failed\n\n";
        let (finished, started, unfinished) = run(&[out], &["a", "b", "c"]);
        assert_eq!(started, ["a", "b", "c"]);
        assert_eq!(
            finished,
            [
                ("a".into(), true, "hello\n".into()),
                (
                    "b".into(),
                    false,
                    "thread 'b' panicked at x.rs:1:1:\nboom\n".into()
                ),
                ("c".into(), true, "no newline here".into()),
            ]
        );
        assert_eq!(unfinished, None);
    }

    #[test]
    fn should_panic_tests_have_markers_of_their_own() {
        let out = "\nrunning 3 tests\ntest a ... ok\ntest b - should panic ... ok\ntest c - should panic ... FAILED\n\nfailures:\n\n---- c stdout ----\nnote: test did not panic as expected\n\nfailures:\n    c\n\ntest result: FAILED. 2 passed; 1 failed\n";
        let (finished, started, unfinished) = run(&[out], &["a", "b", "c"]);
        assert_eq!(started, ["a", "b", "c"]);
        assert_eq!(
            finished,
            [
                ("a".into(), true, String::new()),
                ("b".into(), true, String::new()),
                ("c".into(), false, String::new()),
            ]
        );
        assert_eq!(unfinished, None);
    }

    #[test]
    fn markers_split_across_reads() {
        let chunks = [
            "\nrunning 2 tests\nte",
            "st a ... ",
            "o",
            "k\ntest",
            " b ... ok\n\ntest result: ok.\n",
        ];
        let (finished, _, _) = run(&chunks, &["a", "b"]);
        assert_eq!(finished.len(), 2);
        assert!(finished.iter().all(|f| f.1 && f.2.is_empty()));
    }

    #[test]
    fn crash_leaves_running_test_unfinished() {
        let out = "\nrunning 3 tests\ntest a ... ok\ntest b ... about to abort\n";
        let (finished, started, unfinished) = run(&[out], &["a", "b", "c"]);
        assert_eq!(finished.len(), 1);
        assert_eq!(started, ["a", "b"]);
        assert_eq!(unfinished.as_deref(), Some("b"));
    }

    #[test]
    fn captured_sections_are_collected_per_test() {
        let out = "\nrunning 3 tests\ntest a ... ok\ntest b ... ok\ntest c ... FAILED\n\nsuccesses:\n\n---- a stdout ----\nline 1\nline 2\n\n\nsuccesses:\n    a\n    b\n\nfailures:\n\n---- c stdout ----\nthread 'c' panicked\n\n\nfailures:\n    c\n\ntest result: FAILED. 2 passed; 1 failed\n";
        let mut p = BatchParser::new(["a", "b", "c"].map(String::from));
        let events = p.feed(out.as_bytes(), Instant::now());
        assert_eq!(events.len(), 6);
        let captured = p.take_captured();
        assert_eq!(captured["a"], b"line 1\nline 2\n");
        assert_eq!(captured["c"], b"thread 'c' panicked\n");
        assert!(!captured.contains_key("b"));
    }

    #[test]
    fn a_fake_trailer_before_the_last_test_is_output() {
        let out = "test a ... ok\n\ntest result: ok. 1 passed\nFAILED\ntest b ... ok\n\ntest result: FAILED.\n";
        let (finished, _, _) = run(&[out], &["a", "b"]);
        assert_eq!(finished.len(), 2);
        assert!(
            !finished[0].1,
            "a printed a fake summary but libtest said FAILED"
        );
        assert!(finished[1].1);
    }

    #[test]
    fn output_that_looks_like_a_marker_of_an_unknown_test_is_output() {
        let out = "test a ... test zzz ... ok\nok\n\ntest result: ok.\n";
        let (finished, _, _) = run(&[out], &["a"]);
        assert_eq!(finished, [("a".into(), true, "test zzz ... ok\n".into())]);
    }

    #[test]
    fn exit_without_trailer_leaves_the_test_unfinished() {
        // The test printed "ok" itself, then called process::exit.
        let (finished, _, unfinished) = run(&["test a ... ok\n"], &["a"]);
        assert!(finished.is_empty());
        assert_eq!(unfinished.as_deref(), Some("a"));
    }
}
