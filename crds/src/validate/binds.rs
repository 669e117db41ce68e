//! Which host paths a plan may bind-mount into a container. A bind mount
//! hands the container a part of the host, and turnout runs as root: the
//! host's root, its system directories, the Docker engine (its socket and
//! state, which are root on the host), and turnout's own state and data are
//! never handed out, nor any directory that holds one of them.

/// Paths no bind mount may be, be under, or hold.
const PROTECTED: [&str; 14] = [
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/run/docker",
    "/run/docker.sock",
    "/var/run/docker.sock",
    "/run/containerd",
    "/var/run/docker",
    "/run/turnout",
    "/var/lib/turnout",
    "/etc/docker",
];

/// Under /etc, even read-only: credentials and the machine's own trust.
const SENSITIVE_ETC: [&str; 7] = [
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/ssh",
    "/etc/kubernetes",
    "/etc/turnout",
    "/etc/ssl/private",
];

/// Whether `path` is `root` or lies under it.
fn within(path: &str, root: &str) -> bool {
    path == root
        || path
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Why binding host path `host` is refused, or None.
pub fn bind_problem(host: &str, read_only: bool) -> Option<String> {
    if !host.starts_with('/') {
        return Some("the host path must be absolute".into());
    }
    if host.chars().any(char::is_control) {
        return Some("the host path holds a control character".into());
    }
    if host.split('/').any(|part| part == ".." || part == ".") {
        return Some("the host path may not contain `.` or `..`; write it out".into());
    }
    let path = if host.len() > 1 {
        host.trim_end_matches('/')
    } else {
        host
    };
    if path == "/" || path.is_empty() {
        return Some("it would hand the container the host's whole file system".into());
    }
    if let Some(p) = PROTECTED.iter().find(|p| within(path, p)) {
        return Some(format!(
            "{p} is the host's own (the kernel's, the engine's or turnout's): a container must not see or change it"
        ));
    }
    if let Some(p) = PROTECTED.iter().find(|p| within(p, path)) {
        return Some(format!(
            "it holds {p}, which a container must not see or change; bind a directory of the application's own (e.g. /srv/APP)"
        ));
    }
    if path == "/etc" || within("/etc", path) {
        return Some("it is (or holds) the host's configuration, /etc".into());
    }
    if within(path, "/etc") {
        if let Some(p) = SENSITIVE_ETC
            .iter()
            .find(|p| within(path, p) || within(p, path))
        {
            return Some(format!("{p} holds the host's credentials"));
        }
        if !read_only {
            return Some("a path under /etc may only be mounted read-only (readOnly: true)".into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dangerous_paths_are_refused_and_application_paths_pass() {
        for (path, ro) in [
            ("/", false),
            ("//", true),
            ("/var/run/docker.sock", true),
            ("/run/docker.sock", false),
            ("/var/lib/docker/volumes", false),
            ("/var", false),
            ("/var/lib", true),
            ("/run", false),
            ("/etc", true),
            ("/etc/shadow", true),
            ("/etc/ssh/", true),
            ("/etc/nginx", false),
            ("/proc/1/root", true),
            ("/sys", true),
            ("/dev/sda", false),
            ("/run/turnout/secrets", true),
            ("/var/lib/turnout/backups", true),
            ("/srv/../etc", true),
            ("relative/path", false),
            ("/srv/a\nb", false),
        ] {
            assert!(
                bind_problem(path, ro).is_some(),
                "{path:?} ro={ro} was accepted"
            );
        }
        for (path, ro) in [
            ("/srv/redis", false),
            ("/var/lib/app-data", false),
            ("/etc/localtime", true),
            ("/etc/nginx/conf.d", true),
            ("/home/ops/site", false),
            ("/var/lib/dockerish", false),
        ] {
            assert_eq!(bind_problem(path, ro), None, "{path:?} ro={ro}");
        }
    }
}
