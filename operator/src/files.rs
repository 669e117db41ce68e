//! Small file helpers for turnout's own state: private directories and
//! files replaced atomically (write a sibling, then rename over).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde::Serialize;

/// Creates `dir` (and its parents) and makes it root-only (0700).
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Replaces `path` with `value` as JSON, atomically: readers see the old
/// file or the new one, never half of one.
pub fn replace_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
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
        assert!(!file.with_extension("tmp").exists());
        private_dir(&dir.join("p")).unwrap();
        let mode = std::fs::metadata(dir.join("p"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
