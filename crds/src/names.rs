//! Name rules: what Docker, Kubernetes and turnout's own files accept.
//!
//! Names from a plan become container names, label values and argv
//! elements, never shell text; these checks keep them to what Docker
//! accepts and to a length a person can read in `docker ps`. Object names
//! (`metadata.name`) become file names under turnout's data directory and
//! label values, so they follow the rules the Kubernetes API server applies,
//! whichever way they arrive (a file, the API, a switch's generated name).

/// Longest container, volume or version name turnout accepts.
pub const MAX_NAME_LEN: usize = 63;

/// Longest Kubernetes object name (a DNS-1123 subdomain).
pub const MAX_OBJECT_NAME_LEN: usize = 253;

/// Suffix of the database a sync loads its copy into before the swap
/// (`<db>__turnout_staging`); a data binding may not use such a name.
pub const STAGING_SUFFIX: &str = "__turnout_staging";
/// Suffix of the database a sync moves the target's previous contents to
/// (`<db>__turnout_old`); a data binding may not use such a name.
pub const OLD_SUFFIX: &str = "__turnout_old";
/// Prefix of every name turnout makes for itself; a data binding's
/// database may not start with it.
pub const RESERVED_PREFIX: &str = "__turnout";

/// The kinds whose `metadata.name` turnout uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    PortPlan,
    VersionSelection,
    DataSync,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::PortPlan => "PortPlan",
            ObjectKind::VersionSelection => "VersionSelection",
            ObjectKind::DataSync => "DataSync",
        }
    }

    /// The longest name turnout accepts for this kind. A plan's name is a
    /// Docker label value on every container, and a selection's a
    /// Kubernetes label value on the DataSyncs of its switches: both at
    /// most 63 characters. A DataSync's name is a file name: 253.
    pub fn max_name_len(self) -> usize {
        match self {
            ObjectKind::PortPlan | ObjectKind::VersionSelection => MAX_NAME_LEN,
            ObjectKind::DataSync => MAX_OBJECT_NAME_LEN,
        }
    }

    /// Checks `metadata.name` for this kind: a DNS-1123 subdomain of at
    /// most [`ObjectKind::max_name_len`] characters.
    pub fn check_name(self, name: &str) -> Result<(), NameError> {
        check_subdomain(name, self.max_name_len())
    }

    /// The sentence for a refused `metadata.name`: what is wrong and what to do.
    pub fn name_refused(self, e: &NameError) -> String {
        format!("this {self}'s name is refused: {e}; {}", self.name_advice())
    }

    /// What to do about a refused name, for the end of a message.
    pub fn name_advice(self) -> String {
        let why = match self {
            ObjectKind::PortPlan => "it labels every container of the plan",
            ObjectKind::VersionSelection => "it labels the DataSyncs of its switches",
            ObjectKind::DataSync => "turnout keeps each DataSync's record in a file of that name",
        };
        format!(
            "{why}, so rename the {} to lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most {} characters (e.g. future-to-dao)",
            self.as_str(),
            self.max_name_len()
        )
    }
}

impl std::fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an object name is refused. Each variant's `reason()` is stable; the
/// name is kept short and escaped (`shown`), so a hostile name cannot
/// flood or forge a log line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("{shown} is {len} characters long; the limit is {max}")]
    TooLong {
        shown: String,
        len: usize,
        max: usize,
    },
    #[error("{shown} contains {bad:?}, which is not a lowercase letter, digit, '-' or '.'")]
    Character { shown: String, bad: char },
    #[error(
        "{shown} must start and end with a lowercase letter or digit, and so must each part between dots"
    )]
    Edge { shown: String },
}

impl NameError {
    /// A stable name for metrics labels and condition reasons.
    pub fn reason(&self) -> &'static str {
        match self {
            NameError::Empty => "NameEmpty",
            NameError::TooLong { .. } => "NameTooLong",
            NameError::Character { .. } => "NameCharacter",
            NameError::Edge { .. } => "NameEdge",
        }
    }
}

/// Checks a DataSync's name before it is used as a file name: the
/// operator calls this for names that come from the Kubernetes API or are
/// generated for a switch, the loader and `turnout validate` for files.
pub fn check_datasync_name(name: &str) -> Result<(), NameError> {
    ObjectKind::DataSync.check_name(name)
}

/// Checks a Kubernetes object name: a DNS-1123 subdomain (lowercase
/// letters, digits, '-' and '.', each dot-separated part starting and
/// ending with a letter or digit) of at most 253 characters. This is what
/// the API server itself accepts.
pub fn check_object_name(name: &str) -> Result<(), NameError> {
    check_subdomain(name, MAX_OBJECT_NAME_LEN)
}

fn check_subdomain(name: &str, max: usize) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '.')))
    {
        return Err(NameError::Character {
            shown: shown(name),
            bad,
        });
    }
    // Only ASCII is left, so bytes are characters.
    if name.len() > max {
        return Err(NameError::TooLong {
            shown: shown(name),
            len: name.len(),
            max,
        });
    }
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let edges_ok = name
        .split('.')
        .all(|part| part.starts_with(alnum) && part.ends_with(alnum));
    if !edges_ok {
        return Err(NameError::Edge { shown: shown(name) });
    }
    Ok(())
}

/// A name as messages show it: quoted, escaped, and cut after 64 characters.
pub fn shown(name: &str) -> String {
    const KEEP: usize = 64;
    match name.char_indices().nth(KEEP) {
        None => format!("{name:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &name[..cut], name.len()),
    }
}

/// Longest volume name turnout accepts (an anonymous volume's id is 64).
pub const MAX_VOLUME_NAME_LEN: usize = 128;

/// Why a volume name is refused: the container-name characters, at most
/// [`MAX_VOLUME_NAME_LEN`] long (an anonymous volume is named by its
/// 64-character id, and adopting a host keeps it by that name).
pub fn volume_name_problem(name: &str) -> Option<String> {
    docker_name_problem(name, MAX_VOLUME_NAME_LEN)
}

/// Why a name is refused, or `None` when Docker would accept it as a
/// container name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, at most 63 characters.
pub fn container_name_problem(name: &str) -> Option<String> {
    docker_name_problem(name, MAX_NAME_LEN)
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, at most `max` characters.
fn docker_name_problem(name: &str, max: usize) -> Option<String> {
    if name.len() < 2 {
        return Some(format!(
            "{name:?} is too short: Docker needs at least 2 characters"
        ));
    }
    if name.len() > max {
        return Some(format!(
            "{} is {} characters long; use at most {max}",
            shown(name),
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
