//! Where things go: results on stdout, errors and progress on stderr.
//!
//! A closed stdout (`emrebuild diff A B | head -1`) is not an error and does not end the
//! process: Rust ignores SIGPIPE, so writes fail with `BrokenPipe`; [`Stdout`] then drops the
//! rest of the output quietly and the command still finishes and returns its own exit code
//! (`diff` 1 when the maps differ, whatever the reader of the pipe did).

use std::io::{self, Write};

/// One line on stderr for an error: `emrebuild: <message>[: <cause>...]`.
pub fn error_line(err: &anyhow::Error) {
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    let _ = writeln!(io::stderr().lock(), "emrebuild: {msg}");
}

/// A buffered stdout writer: a broken pipe discards the rest of the output without an error.
pub struct Stdout {
    buf: Vec<u8>,
    closed: bool,
}

impl Stdout {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(1 << 16),
            closed: false,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.closed {
            self.buf.extend_from_slice(data);
            if self.buf.len() >= 1 << 20 {
                self.flush()?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut out = io::stdout().lock();
        let result = out.write_all(&self.buf).and_then(|()| out.flush());
        self.buf.clear();
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
