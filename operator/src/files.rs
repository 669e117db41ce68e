//! Small file helpers for turnout's own state: private directories and
//! files replaced atomically and durably (write a sibling, flush it, rename
//! it over, flush the directory).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde::Serialize;

/// Creates `dir` (and its parents) and makes it root-only (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Replaces `path` with `value` as JSON, atomically and durably: the new
/// content is written to a sibling and flushed, renamed over `path`, and the
/// directory flushed, so readers (and a host that loses power) see the old
/// file or the new one, never half of one. The sibling is removed on any error.
pub fn replace_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    replace_file(path, &bytes, 0o644)
}

/// The largest state file turnout reads back (its own small JSON records).
const MAX_STATE_FILE: u64 = 1 << 20;

/// Reads back a JSON record [`replace_json`] wrote: None when there is
/// none; an error for one that is too large or does not parse.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Option<T>> {
    use std::io::Read;
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    f.take(MAX_STATE_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_STATE_FILE {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_STATE_FILE} bytes"
        )));
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// Replaces `path` with `bytes` (mode `mode`) the way [`replace_json`] does.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        // An existing sibling keeps its old mode through open(): set it.
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        fsync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes `bytes` (mode `mode`) to `path`, which must not exist yet,
/// whole or not at all: the content goes to a sibling, is flushed, and is
/// linked in under `path` (which fails, changing nothing, when `path` has
/// appeared meanwhile); the sibling is removed in every case.
pub fn create_file(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(path.file_name().unwrap_or_default());
    tmp_name.push(format!(".{}.new", std::process::id()));
    let tmp = dir.join(tmp_name);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)
    })();
    let removed = std::fs::remove_file(&tmp);
    written?;
    removed?;
    fsync_dir(dir)
}

/// Flushes a directory, so a rename inside it survives a crash.
pub fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_makes_private_dirs() {
        let dir = std::env::temp_dir().join(format!("turnout-files-{}", std::process::id()));
        let file = dir.join("a/b.json");
        replace_json(&file, &serde_json::json!({"x": 1})).unwrap();
        replace_json(&file, &serde_json::json!({"x": 2})).unwrap();
        let back: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(back["x"], 2);
        assert!(!dir.join("a/b.json.tmp").exists());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        private_dir(&dir.join("p")).unwrap();
        let mode = std::fs::metadata(dir.join("p"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_file_never_replaces_one_that_exists() {
        let dir = std::env::temp_dir().join(format!("turnout-create-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plan.yaml");
        create_file(&file, b"first", 0o644).unwrap();
        let again = create_file(&file, b"second", 0o644).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "first");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(left.len(), 1, "no sibling is left behind: {left:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
