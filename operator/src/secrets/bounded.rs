//! Reading a secret from a file with bounds: a small regular file and
//! nothing else.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Largest secret value turnout reads from a file.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Why a secret file cannot be read.
#[derive(Debug)]
pub enum FileProblem {
    Io(std::io::Error),
    NotAFile(&'static str),
    TooLarge,
}

/// Reads a small regular file and nothing else: the file is opened without
/// blocking (a FIFO would wait for a writer forever), checked through the
/// opened handle (no race with a swapped path), and read with a bound (a
/// device such as /dev/zero never ends).
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, FileProblem> {
    use std::io::Read;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(FileProblem::Io)?;
    let meta = f.metadata().map_err(FileProblem::Io)?;
    if !meta.is_file() {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        return Err(FileProblem::NotAFile(if t.is_dir() {
            "a directory"
        } else if t.is_fifo() {
            "a FIFO"
        } else if t.is_char_device() || t.is_block_device() {
            "a device"
        } else if t.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        }));
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(FileProblem::TooLarge);
    }
    let mut value = Vec::new();
    f.take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut value)
        .map_err(FileProblem::Io)?;
    if value.len() as u64 > MAX_SECRET_BYTES {
        return Err(FileProblem::TooLarge);
    }
    Ok(value)
}
