//! Command-line and environment configuration of the daemon.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Environment variable naming the socket path when `--socket` is not given.
pub const SOCKET_ENV: &str = "ECHO_SOCKET";

/// Environment variable naming the debug log file when `--log-file` is not
/// given.
pub const LOG_ENV: &str = "ECHO_LOG";

/// Usage text of the `echo-server` binary.
pub const USAGE: &str = "\
usage: echo-server [--socket PATH] [--log-file PATH]

Serves the echo line protocol on a Unix socket: every line is echoed back,
PING is answered with PONG. Stops cleanly on SIGTERM or SIGINT.

options:
  --socket PATH     socket to listen on (default: $ECHO_SOCKET)
  --log-file PATH   append debug logs to PATH (default: $ECHO_LOG, or none)
  -h, --help        print this help
  -V, --version     print the version";

/// How the daemon was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Path of the Unix socket to listen on.
    pub socket: PathBuf,
    /// File that debug logs are appended to, if any.
    pub log_file: Option<PathBuf>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the daemon with this configuration.
    Run(Config),
    /// Print the usage text.
    Help,
    /// Print the version.
    Version,
}

impl Config {
    /// Reads the configuration from the process arguments and environment.
    pub fn from_env() -> Result<Command, String> {
        Self::parse(std::env::args_os().skip(1), |key| std::env::var_os(key))
    }

    /// Parses `args` (without the program name), looking environment
    /// variables up with `env`. Flags win over environment variables; empty
    /// environment variables count as unset.
    pub fn parse<I, F>(args: I, env: F) -> Result<Command, String>
    where
        I: IntoIterator<Item = OsString>,
        F: Fn(&str) -> Option<OsString>,
    {
        let mut socket = None;
        let mut log_file = None;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let bytes = arg.as_bytes();
            match bytes {
                b"-h" | b"--help" => return Ok(Command::Help),
                b"-V" | b"--version" => return Ok(Command::Version),
                b"--socket" => socket = Some(value_of("--socket", args.next())?),
                b"--log-file" => log_file = Some(value_of("--log-file", args.next())?),
                _ => {
                    if let Some(rest) = bytes.strip_prefix(b"--socket=") {
                        socket = Some(value_of("--socket", Some(OsStr::from_bytes(rest).into()))?);
                    } else if let Some(rest) = bytes.strip_prefix(b"--log-file=") {
                        log_file = Some(value_of(
                            "--log-file",
                            Some(OsStr::from_bytes(rest).into()),
                        )?);
                    } else {
                        return Err(format!("unexpected argument {:?}", arg));
                    }
                }
            }
        }
        let from_env = |key: &str| env(key).filter(|v| !v.is_empty()).map(PathBuf::from);
        let socket = socket.or_else(|| from_env(SOCKET_ENV)).ok_or_else(|| {
            format!("no socket path given: pass --socket PATH or set {SOCKET_ENV}")
        })?;
        let log_file = log_file.or_else(|| from_env(LOG_ENV));
        Ok(Command::Run(Config { socket, log_file }))
    }
}

fn value_of(flag: &str, value: Option<OsString>) -> Result<PathBuf, String> {
    match value {
        Some(v) if !v.is_empty() => Ok(PathBuf::from(v)),
        _ => Err(format!("{flag} needs a non-empty PATH")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: &[(&str, &str)]) -> Result<Command, String> {
        let env: Vec<(String, OsString)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::parse(args.iter().map(OsString::from), |key| {
            env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    fn run(socket: &str, log_file: Option<&str>) -> Command {
        Command::Run(Config {
            socket: socket.into(),
            log_file: log_file.map(PathBuf::from),
        })
    }

    #[test]
    fn socket_flag_is_used() {
        assert_eq!(
            parse(&["--socket", "/tmp/a.sock"], &[]),
            Ok(run("/tmp/a.sock", None))
        );
        assert_eq!(
            parse(&["--socket=/tmp/b.sock"], &[]),
            Ok(run("/tmp/b.sock", None))
        );
    }

    #[test]
    fn env_supplies_socket_and_log_file() {
        let env = [(SOCKET_ENV, "/tmp/env.sock"), (LOG_ENV, "/tmp/env.log")];
        assert_eq!(
            parse(&[], &env),
            Ok(run("/tmp/env.sock", Some("/tmp/env.log")))
        );
    }

    #[test]
    fn flags_win_over_env() {
        let env = [(SOCKET_ENV, "/tmp/env.sock"), (LOG_ENV, "/tmp/env.log")];
        assert_eq!(
            parse(
                &["--socket", "/tmp/flag.sock", "--log-file=/tmp/flag.log"],
                &env
            ),
            Ok(run("/tmp/flag.sock", Some("/tmp/flag.log")))
        );
    }

    #[test]
    fn empty_env_counts_as_unset() {
        let err = parse(&[], &[(SOCKET_ENV, "")]).unwrap_err();
        assert!(err.contains(SOCKET_ENV), "{err}");
        assert_eq!(
            parse(&["--socket", "/tmp/a.sock"], &[(LOG_ENV, "")]),
            Ok(run("/tmp/a.sock", None))
        );
    }

    #[test]
    fn missing_socket_is_an_error() {
        let err = parse(&[], &[]).unwrap_err();
        assert!(
            err.contains("--socket") && err.contains(SOCKET_ENV),
            "{err}"
        );
    }

    #[test]
    fn flag_without_value_is_an_error() {
        assert!(parse(&["--socket"], &[]).unwrap_err().contains("--socket"));
        assert!(
            parse(&["--log-file="], &[])
                .unwrap_err()
                .contains("--log-file")
        );
    }

    #[test]
    fn unknown_argument_is_an_error() {
        let err = parse(&["--socket", "/tmp/a.sock", "--verbose"], &[]).unwrap_err();
        assert!(err.contains("--verbose"), "{err}");
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&["--help"], &[]), Ok(Command::Help));
        assert_eq!(parse(&["-V"], &[]), Ok(Command::Version));
    }
}
