//! The repository URL that `--git` names, and keeping its credentials out
//! of sight. `https://user:token@host/repo.git` is accepted: git is given
//! the URL without them and gets them from a credential helper that reads
//! two environment variables, so they never reach a command line, the
//! checkout's config, a log line, an error or the status, all of which see
//! `https://***@host/repo.git`.

/// Schemes turnout lets git speak (`ext::` and friends run programs).
pub const ALLOWED_SCHEMES: &[&str] = &["https", "http", "ssh", "git", "file"];

/// A repository URL, shown redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct RepoUrl {
    /// What git is given: the URL without credentials.
    for_git: String,
    /// What people see.
    shown: String,
    /// For http(s): user and password (percent-decoded), and the
    /// `scheme://host[:port]` the credential helper answers for.
    creds: Option<Credentials>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub scope: String,
    pub username: String,
    pub password: String,
    /// The strings that must never be shown (raw and decoded forms).
    secrets: Vec<String>,
}

/// Why a URL is refused (the message carries only the redacted URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadUrl {
    pub shown: String,
    pub why: &'static str,
}

impl std::fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Debug for RepoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RepoUrl({})", self.shown)
    }
}

impl RepoUrl {
    pub fn parse(raw: &str) -> Result<RepoUrl, BadUrl> {
        let shown = redact_urls(raw);
        let bad = |why| BadUrl {
            shown: shown.clone(),
            why,
        };
        if raw.is_empty() || raw.starts_with('-') {
            return Err(bad("it is empty or starts with '-'"));
        }
        if raw.chars().any(char::is_control) {
            return Err(bad("it holds control characters"));
        }
        let Some((scheme, rest)) = raw.split_once("://") else {
            if raw.contains("::") {
                return Err(bad(
                    "`transport::address` URLs run programs; use https, ssh, git or file",
                ));
            }
            // A path or scp-like `user@host:path`: no password can be in it.
            return Ok(RepoUrl {
                for_git: raw.to_string(),
                shown,
                creds: None,
            });
        };
        let scheme_lc = scheme.to_ascii_lowercase();
        if !ALLOWED_SCHEMES.contains(&scheme_lc.as_str()) {
            return Err(bad("its scheme is not one of https, http, ssh, git, file"));
        }
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let Some((userinfo, host)) = authority.rsplit_once('@') else {
            return Ok(RepoUrl {
                for_git: raw.to_string(),
                shown,
                creds: None,
            });
        };
        match scheme_lc.as_str() {
            "http" | "https" => {
                let creds = http_credentials(&scheme_lc, userinfo, host).map_err(bad)?;
                Ok(RepoUrl {
                    for_git: format!("{scheme}://{host}{path}"),
                    shown,
                    creds: Some(creds),
                })
            }
            "ssh" if !userinfo.contains(':') => Ok(RepoUrl {
                for_git: raw.to_string(),
                shown,
                creds: None,
            }),
            "ssh" => Err(bad(
                "a password in an ssh URL would reach git's command line; use an ssh key (see the README)",
            )),
            _ => Err(bad(
                "git:// and file:// URLs carry no credentials; remove the user:password@ part",
            )),
        }
    }

    /// The URL git is given (no credentials in it).
    pub fn for_git(&self) -> &str {
        &self.for_git
    }

    pub fn credentials(&self) -> Option<&Credentials> {
        self.creds.as_ref()
    }

    /// `text` (git's stderr) with every URL's userinfo and every form of
    /// this URL's credentials replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_urls(text);
        if let Some(c) = &self.creds {
            for s in &c.secrets {
                out = out.replace(s.as_str(), "***");
            }
        }
        out
    }
}

/// Replaces the userinfo of every `scheme://userinfo@host` in `text`.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || "'\"<>`()".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// `%XX` decoded; anything malformed is kept as written.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The credentials in an http(s) URL's `userinfo` (`user:password` or a
/// token alone, which is the username), decoded; with every form of them
/// that must never be shown (the raw and the decoded parts).
fn http_credentials(
    scheme_lc: &str,
    userinfo: &str,
    host: &str,
) -> Result<Credentials, &'static str> {
    let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let (username, password) = (percent_decode(user), percent_decode(pass));
    if [&username, &password]
        .iter()
        .any(|s| s.contains(['\n', '\r', '\0']))
    {
        return Err("its credentials hold a line break or NUL");
    }
    let mut secrets = vec![userinfo.to_string()];
    // A token alone (`https://TOKEN@host`) is the username.
    let secret_parts = if pass.is_empty() {
        [user, username.as_str()]
    } else {
        [pass, password.as_str()]
    };
    secrets.extend(
        secret_parts
            .iter()
            .filter(|s| s.len() >= 3)
            .map(|s| s.to_string()),
    );
    Ok(Credentials {
        scope: format!("{scheme_lc}://{host}"),
        username,
        password,
        secrets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_credentials_leave_the_url_and_are_redacted() {
        let u = RepoUrl::parse("https://deploy:s3cr%40t-token@git.example.org:8443/ops/hosts.git")
            .unwrap();
        assert_eq!(u.for_git(), "https://git.example.org:8443/ops/hosts.git");
        assert_eq!(
            u.to_string(),
            "https://***@git.example.org:8443/ops/hosts.git"
        );
        assert!(!format!("{u:?}").contains("s3cr"));
        let c = u.credentials().unwrap();
        assert_eq!(
            (c.scope.as_str(), c.username.as_str(), c.password.as_str()),
            ("https://git.example.org:8443", "deploy", "s3cr@t-token")
        );
        let echoed = "fatal: unable to access 'https://deploy:s3cr%40t-token@git.example.org:8443/': s3cr@t-token deploy:s3cr%40t-token@x";
        let r = u.redact(echoed);
        assert!(!r.contains("s3cr"), "{r}");
        assert!(r.contains("https://***@git.example.org:8443/"), "{r}");
    }

    #[test]
    fn a_token_as_username_is_a_secret() {
        let u = RepoUrl::parse("https://ghp_abcdef123456@github.com/o/r.git").unwrap();
        assert_eq!(u.credentials().unwrap().username, "ghp_abcdef123456");
        assert_eq!(u.credentials().unwrap().password, "");
        assert_eq!(u.redact("user ghp_abcdef123456 failed"), "user *** failed");
    }

    #[test]
    fn urls_without_credentials_pass_unchanged() {
        for raw in [
            "https://git.example.org/ops/hosts.git",
            "file:///srv/git/hosts.git",
            "/srv/git/hosts.git",
            "git@github.com:o/r.git",
            "ssh://git@github.com/o/r.git",
        ] {
            assert_eq!(RepoUrl::parse(raw).unwrap().for_git(), raw);
        }
        assert_eq!(
            RepoUrl::parse("ssh://git@github.com/o/r.git")
                .unwrap()
                .to_string(),
            "ssh://***@github.com/o/r.git"
        );
    }

    #[test]
    fn refuses_what_would_leak_or_run_programs() {
        for (raw, leak) in [
            ("git://u:tok3n-value@127.0.0.1/x.git", "tok3n"),
            ("ssh://u:tok3n-value@host/x.git", "tok3n"),
            ("ext::sh -c touch% /tmp/x", ""),
            ("--upload-pack=touch /tmp/x", ""),
            ("https://u:p\n@host/x", ""),
            ("", ""),
        ] {
            let e = RepoUrl::parse(raw).unwrap_err();
            assert!(leak.is_empty() || !e.shown.contains(leak), "{e:?}");
        }
    }
}
