//! Standard output that a reader closing early does not crash: `ocop call …
//! | head` closes the pipe after a few lines, and `println!` panics on the
//! broken pipe (Rust ignores SIGPIPE).

use std::io::Write;

/// Writes `text` and a newline to standard output. A reader that has gone
/// (a broken pipe) wants no more output, which is not an error.
pub(crate) fn line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
