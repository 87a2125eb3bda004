//! `echo-cli`: sends messages to an echo server and prints the replies.
//!
//! ```text
//! echo-cli --socket /run/echo.sock hello PING
//! hello
//! PONG
//! ```

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use echo_client::Client;

const USAGE: &str = "\
usage: echo-cli [--socket PATH] [--] MESSAGE...

Sends each MESSAGE as one line to the echo server and prints each reply on
its own line.

options:
  --socket PATH   server socket (default: $ECHO_SOCKET)
  -h, --help      print this help";

/// Environment variable naming the socket when `--socket` is not given.
const SOCKET_ENV: &str = "ECHO_SOCKET";

#[derive(Debug, PartialEq, Eq)]
enum Invocation {
    Send {
        socket: PathBuf,
        messages: Vec<String>,
    },
    Help,
}

fn parse_args(
    args: impl IntoIterator<Item = OsString>,
    env_socket: Option<OsString>,
) -> Result<Invocation, String> {
    let mut socket = None;
    let mut messages = Vec::new();
    let mut args = args.into_iter();
    let mut options_done = false;
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|arg| format!("argument {arg:?} is not valid UTF-8"))?;
        if options_done || !arg.starts_with('-') || arg == "-" {
            messages.push(arg);
            continue;
        }
        match arg.as_str() {
            "--" => options_done = true,
            "-h" | "--help" => return Ok(Invocation::Help),
            "--socket" => match args.next() {
                Some(path) if !path.is_empty() => socket = Some(PathBuf::from(path)),
                _ => return Err("--socket needs a PATH".to_owned()),
            },
            _ => match arg.strip_prefix("--socket=") {
                Some(path) if !path.is_empty() => socket = Some(PathBuf::from(path)),
                Some(_) => return Err("--socket needs a PATH".to_owned()),
                None => {
                    return Err(format!(
                        "unknown option {arg:?} (use -- before messages starting with -)"
                    ));
                }
            },
        }
    }
    let socket = socket
        .or_else(|| env_socket.filter(|s| !s.is_empty()).map(PathBuf::from))
        .ok_or_else(|| format!("no socket given: pass --socket PATH or set {SOCKET_ENV}"))?;
    if messages.is_empty() {
        return Err("no MESSAGE given".to_owned());
    }
    Ok(Invocation::Send { socket, messages })
}

fn main() -> ExitCode {
    match parse_args(std::env::args_os().skip(1), std::env::var_os(SOCKET_ENV)) {
        Ok(Invocation::Help) => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Invocation::Send { socket, messages }) => match send_all(&socket, &messages) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("echo-cli: {message}");
                ExitCode::FAILURE
            }
        },
        Err(message) => {
            eprintln!("echo-cli: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn send_all(socket: &std::path::Path, messages: &[String]) -> Result<(), String> {
    let mut client = Client::connect(socket).map_err(|e| e.to_string())?;
    let mut stdout = std::io::stdout().lock();
    for message in messages {
        let reply = client
            .send(message)
            .map_err(|e| format!("sending {message:?}: {e}"))?;
        writeln!(stdout, "{reply}").map_err(|e| format!("writing the reply: {e}"))?;
    }
    stdout
        .flush()
        .map_err(|e| format!("writing the reply: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Invocation, String> {
        parse_args(args.iter().map(OsString::from), env.map(OsString::from))
    }

    fn send(socket: &str, messages: &[&str]) -> Invocation {
        Invocation::Send {
            socket: socket.into(),
            messages: messages.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn socket_flag_and_messages() {
        assert_eq!(
            parse(&["--socket", "/tmp/e.sock", "hello", "PING"], None),
            Ok(send("/tmp/e.sock", &["hello", "PING"]))
        );
        assert_eq!(
            parse(&["hi", "--socket=/tmp/e.sock"], None),
            Ok(send("/tmp/e.sock", &["hi"]))
        );
    }

    #[test]
    fn socket_from_env_unless_flag_given() {
        assert_eq!(
            parse(&["hi"], Some("/tmp/env.sock")),
            Ok(send("/tmp/env.sock", &["hi"]))
        );
        assert_eq!(
            parse(&["--socket", "/tmp/flag.sock", "hi"], Some("/tmp/env.sock")),
            Ok(send("/tmp/flag.sock", &["hi"]))
        );
    }

    #[test]
    fn missing_socket_or_message_is_an_error() {
        assert!(parse(&["hi"], None).unwrap_err().contains(SOCKET_ENV));
        assert!(parse(&["hi"], Some("")).unwrap_err().contains(SOCKET_ENV));
        assert!(
            parse(&["--socket", "/tmp/e.sock"], None)
                .unwrap_err()
                .contains("MESSAGE")
        );
        assert!(parse(&["--socket"], None).unwrap_err().contains("--socket"));
    }

    #[test]
    fn double_dash_ends_options() {
        assert_eq!(
            parse(
                &["--socket", "/tmp/e.sock", "--", "--not-an-option", "-x"],
                None
            ),
            Ok(send("/tmp/e.sock", &["--not-an-option", "-x"]))
        );
        assert!(
            parse(&["--socket", "/tmp/e.sock", "-x"], None)
                .unwrap_err()
                .contains("-x")
        );
    }

    #[test]
    fn help() {
        assert_eq!(parse(&["--help"], None), Ok(Invocation::Help));
    }
}
