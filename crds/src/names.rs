//! Name rules: what Docker and Kubernetes labels accept.
//!
//! Names from a plan become container names, label values and argv
//! elements, never shell text; these checks keep them to what Docker
//! accepts and to a length a person can read in `docker ps`.

/// Longest container, volume or version name turnout accepts.
pub const MAX_NAME_LEN: usize = 63;

/// Why a name is refused, or `None` when Docker would accept it as a
/// container (or volume) name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, at most 63 characters.
pub fn container_name_problem(name: &str) -> Option<String> {
    if name.len() < 2 {
        return Some(format!(
            "{name:?} is too short: Docker needs at least 2 characters"
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "{name:?} is {} characters long; use at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
    let mut chars = name.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Some(format!("{name:?} must start with a letter or digit"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Some(format!(
            "{name:?} contains {bad:?}; Docker names allow only letters, digits, '_', '.' and '-'"
        ));
    }
    None
}

/// Why a version or range name is refused: these become label values, so
/// they follow the Kubernetes label-value rule (alphanumeric at both ends,
/// `-`, `_`, `.` inside, at most 63 characters).
pub fn label_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".to_string());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "{name:?} is {} characters long; use at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
    let ok_inner = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let first_last_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !first_last_ok || !name.chars().all(ok_inner) {
        return Some(format!(
            "{name:?} must be letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    None
}

/// Why an environment variable name is refused: Docker takes any non-empty
/// name without `=`, NUL or white space (`discovery.type` is fine).
pub fn env_name_problem(name: &str) -> Option<String> {
    let valid = !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '=' || c == '\0' || c.is_whitespace());
    (!valid).then(|| {
        format!(
            "{name:?} is not a valid environment variable name (non-empty, no '=' or white space)"
        )
    })
}

/// Whether a plain environment variable name suggests it carries a secret.
/// `*_FILE` names point at a secret file and are fine.
pub fn looks_secret(env_name: &str) -> bool {
    let upper = env_name.to_ascii_uppercase();
    // `*_FILE` points at a secret file; ALLOW_EMPTY_PASSWORD / RANDOM_ROOT_PASSWORD are switches.
    if upper.ends_with("_FILE") || upper.contains("ALLOW_EMPTY") || upper.contains("RANDOM") {
        return false;
    }
    [
        "PASSWORD",
        "PASSWD",
        "SECRET",
        "TOKEN",
        "API_KEY",
        "PRIVATE_KEY",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_container_names() {
        assert_eq!(container_name_problem("test-mysql"), None);
        assert_eq!(container_name_problem("a.b_c-1"), None);
        assert_eq!(container_name_problem("ab"), None);
        assert!(container_name_problem("a").is_some());
        assert!(container_name_problem("").is_some());
        assert!(container_name_problem("-mysql").is_some());
        assert!(container_name_problem("_mysql").is_some());
        assert!(container_name_problem("my sql").is_some());
        assert!(container_name_problem("my/sql").is_some());
        assert!(container_name_problem("mysql;rm -rf /").is_some());
        assert!(container_name_problem("dåo").is_some());
        assert!(container_name_problem(&"a".repeat(64)).is_some());
        assert_eq!(container_name_problem(&"a".repeat(63)), None);
    }

    #[test]
    fn label_names() {
        assert_eq!(label_name_problem("blockchain"), None);
        assert_eq!(label_name_problem("v1.2"), None);
        assert!(label_name_problem("").is_some());
        assert!(label_name_problem("dao-").is_some());
        assert!(label_name_problem("da o").is_some());
    }

    #[test]
    fn env_names_and_secret_hints() {
        assert_eq!(env_name_problem("MYSQL_DATABASE"), None);
        assert_eq!(env_name_problem("discovery.type"), None);
        assert!(env_name_problem("").is_some());
        assert!(env_name_problem("A=B").is_some());
        assert!(env_name_problem("A B").is_some());
        assert!(looks_secret("MYSQL_ROOT_PASSWORD"));
        assert!(looks_secret("api_token"));
        assert!(!looks_secret("MYSQL_ROOT_PASSWORD_FILE"));
        assert!(!looks_secret("MYSQL_DATABASE"));
    }
}
