//! Where things go: results on stdout, errors and progress on stderr.

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

/// A closed stdout pipe (`emrebuild dump ... | head`) ends the program quietly instead of
/// panicking in `println!`: restore the default SIGPIPE action Rust's runtime ignores.
pub fn reset_sigpipe() {
    // Handled without libc: writes go through `write_stdout`, which turns BrokenPipe into a
    // quiet exit.
}

/// Write `bytes` to stdout; a closed pipe exits the process quietly with status 0.
pub fn write_stdout(bytes: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => other,
    }
}

/// A buffered stdout writer whose broken pipe exits quietly.
pub struct Stdout {
    buf: Vec<u8>,
}

impl Stdout {
    pub fn new() -> Self {
        Self {
            buf: Vec::with_capacity(1 << 16),
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 20 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        write_stdout(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
