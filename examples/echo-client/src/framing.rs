//! Line framing of requests and replies.

use std::io::{self, BufRead, Read};

/// Encodes `message` as one protocol line: its bytes and `\n`. Messages with
/// line breaks, or longer than `max_len` bytes, cannot be framed.
pub(crate) fn encode(message: &str, max_len: usize) -> io::Result<Vec<u8>> {
    if message.contains(['\n', '\r']) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a message cannot contain line breaks",
        ));
    }
    if message.len() > max_len {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a message cannot be longer than {max_len} bytes"),
        ));
    }
    let mut frame = Vec::with_capacity(message.len() + 1);
    frame.extend_from_slice(message.as_bytes());
    frame.push(b'\n');
    Ok(frame)
}

/// Reads one line of at most `max_len` bytes (line ending excluded) and
/// returns it without its `\n` or `\r\n` ending.
///
/// End of stream before a complete line is `UnexpectedEof`; an over-long or
/// non-UTF-8 line is `InvalidData`.
pub(crate) fn read_line<R: BufRead>(reader: &mut R, max_len: usize) -> io::Result<String> {
    let mut line = Vec::new();
    // Room for the line, "\r\n", and one more byte to detect overflow.
    let limit = max_len as u64 + 3;
    let read = reader.take(limit).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the server closed the connection",
        ));
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() as u64 == limit {
            too_long(max_len)
        } else {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed in the middle of a line",
            )
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > max_len {
        return Err(too_long(max_len));
    }
    String::from_utf8(line).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn too_long(max_len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("reply longer than {max_len} bytes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(mut input: &[u8], max_len: usize) -> Vec<io::Result<String>> {
        let mut lines = Vec::new();
        loop {
            let line = read_line(&mut input, max_len);
            let done = line.is_err();
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    #[test]
    fn encode_appends_newline() {
        assert_eq!(encode("hello", 100).unwrap(), b"hello\n");
        assert_eq!(encode("", 100).unwrap(), b"\n");
    }

    #[test]
    fn encode_rejects_line_breaks() {
        for message in ["a\nb", "trailing\n", "a\rb"] {
            let err = encode(message, 100).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{message:?}");
        }
    }

    #[test]
    fn encode_enforces_max_len() {
        assert!(encode("12345", 5).is_ok());
        assert_eq!(
            encode("123456", 5).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn read_line_strips_lf_and_crlf() {
        let lines = read_all(b"one\ntwo\r\n\nfour\n", 100);
        let ok: Vec<_> = lines.iter().filter_map(|l| l.as_ref().ok()).collect();
        assert_eq!(ok, ["one", "two", "", "four"]);
        assert_eq!(
            lines.last().unwrap().as_ref().unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn read_line_partial_line_at_eof_is_unexpected_eof() {
        let err = read_line(&mut &b"no newline"[..], 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("middle of a line"), "{err}");
    }

    #[test]
    fn read_line_limits_length() {
        assert_eq!(read_line(&mut &b"12345\r\n"[..], 5).unwrap(), "12345");
        for input in [&b"123456\n"[..], b"1234567890\n", b"123456789"] {
            let err = read_line(&mut &input[..], 5).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{input:?}");
        }
    }

    #[test]
    fn read_line_rejects_invalid_utf8() {
        let err = read_line(&mut &b"\xff\xfe\n"[..], 100).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
