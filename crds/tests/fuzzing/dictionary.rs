//! The words the mutations use: values worth trying where a scalar stands,
//! the keys of turnout and Kubernetes documents, tags, tokens, control
//! characters, escapes, separators and block scalar headers.

/// Values worth trying where a scalar stands.
#[rustfmt::skip]
pub const VALUES: &[&str] = &[
    "0", "-1", "1", "65535", "65536", "70000", "-0", "+1", "0x50", "0o17", "0b101", "1e3",
    "1e400", "-1e400", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "340282366920938463463374607431768211457", ".inf", "-.inf", ".nan",
    "1.5", "1_000", "~", "null", "Null", "NULL", "true", "false", "yes", "no", "on", "off", "y",
    "''", "\"\"", "[]", "{}", "[1, 2]", "{a: b}", "[~]", "../../x", "/etc/docker/daemon", ".",
    "..", "a/b", "Upper", "x__turnout_staging", "x__turnout_old", "__turnout", "future", "dao",
    "blockchain", "test-mysql", "services", "shared", "mysql", "mariadb", "postgres", "redis",
    "neo4j", "Keep", "Stop", "dev", "test", "prod", "127.0.0.1", "::1", "0.0.0.0", "999.1.1.1",
    "tcp", "udp", "sctp", "PortPlan", "DataSync", "VersionSelection", "turnout.dev/v1alpha1",
    "2024-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0000-00-00T00:00:00Z",
    "-271821-04-20T00:00:00Z", "2024-02-30T25:61:61Z", "2024-01-01", "10000-01-01T00:00:00Z",
    "@foo", "`id`", "%x", "!x", "&x", "*x", "|", ">", "#", "- x", ": x", "'unterminated",
    "\"unterminated", "é", "日本語", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\u{202e}evil", "a\u{200b}b", "\u{feff}x", "\u{85}",
    "\u{2028}", "\"\\uD800\"", "\"\\U0010FFFF\"", "\"\\x00\"", "\"\\0\"", "\"\\N\\_\\L\\P\"",
    "\"\\q\"", "!!binary aGVsbG8=", "!!binary ===", "\"a\\\nb\"", "MYSQL_ROOT_PASSWORD", "{{x}}",
];

/// Keys of the turnout documents, of Kubernetes metadata, and a few others.
#[rustfmt::skip]
pub const KEYS: &[&str] = &[
    "apiVersion", "kind", "metadata", "spec", "status", "name", "namespace", "labels",
    "annotations", "creationTimestamp", "deletionTimestamp", "generation", "resourceVersion",
    "uid", "ownerReferences", "managedFields", "fieldsV1", "finalizers", "environment", "stage",
    "exclusiveVersions", "infrastructure", "versions", "ranges", "from", "to", "containers",
    "image", "command", "env", "value", "secrets", "path", "file", "secretKeyRef", "key", "ports",
    "host", "container", "protocol", "bindAddress", "range", "volumes", "readOnly", "readiness",
    "tcp", "http", "exec", "port", "periodSeconds", "timeoutSeconds", "stopTimeoutSeconds",
    "engine", "adminSecret", "data", "database", "export", "import", "planRef", "activeVersion",
    "syncOnSwitch", "paused", "onDelete", "backup", "allowOverwriteNewer", "force", "<<", "? x",
    "", "\"quoted\"", "unknownField", "1", "~", "[a]", "{a: b}",
];

#[rustfmt::skip]
pub const TAGS: &[&str] = &[
    "!!str ", "!!int ", "!!float ", "!!bool ", "!!null ", "!!map ", "!!seq ", "!!binary ",
    "!!timestamp ", "!!set ", "!!omap ", "!!pairs ", "!custom ", "! ",
    "!<tag:yaml.org,2002:str> ", "!<> ", "!!merge ", "!e! ", "!!python/object ",
];

#[rustfmt::skip]
pub const TOKENS: &[&str] = &[
    "apiVersion: turnout.dev/v1alpha1\n", "kind: PortPlan\n", "kind: DataSync\n",
    "kind: VersionSelection\n", "metadata:\n", "  name: p\n", "metadata: {name: q}\n", "spec:\n",
    "  versions:\n", "    - name: future\n", "  planRef: p\n", "from: ", "to: ", "- ", "  ",
    "    ", ": ", "[", "]", "{", "}", ", ", "&a ", "*a", "<<: ", "!!str ", "!x ", "\"", "'",
    "|\n", ">-\n", "#c\n", "\n", "---\n", "...\n", "? ", "%YAML 1.2\n", "\t", "\0", "\u{feff}",
    "ranges", "name", "host: 1", "8000", "-1", "99999999999999999999", "é", "\r\n", "\\",
    "%TAG ! tag:x,2000:\n",
];

/// Numbers where a number stood and words where a word stood, half the
/// time: the document then still loads and the validation rules see it.
#[rustfmt::skip]
pub const NUMBERS: &[&str] = &[
    "0", "1", "-1", "80", "3306", "8000", "8099", "9200", "65535", "65536",
];

#[rustfmt::skip]
pub const WORDS: &[&str] = &[
    "future", "dao", "blockchain", "test-mysql", "services", "shared", "a", "x__turnout_old",
    "users", "dao_users", "/data", "redis", "mysql", "three-versions", "p", "host", "-", "a b",
];

#[rustfmt::skip]
pub const SEPARATORS: &[&str] = &[
    "---\n", "...\n", "--- \n", "---x\n", "--- |\n", "%YAML 1.2\n---\n", "%YAML 9.9\n---\n",
    "%TAG ! tag:example.com,2000:\n---\n", "%FOO bar\n", "--- !!map\n", "---\n---\n---\n",
];

#[rustfmt::skip]
pub const BOMS: &[&[u8]] = &[
    b"\xEF\xBB\xBF", b"\xFF\xFE", b"\xFE\xFF", b"\x00\x00\xFE\xFF",
];

#[rustfmt::skip]
pub const CONTROLS: &[&str] = &[
    "\0", "\x07", "\x1b[31m", "\r", "\t", "\x7f", "\u{85}", "\u{2028}", "\u{2029}", "\x0b",
    "\x0c", "\r\n", "\u{fffe}", "\u{ffff}",
];

#[rustfmt::skip]
pub const HEADERS: &[&str] = &[
    "|", ">", "|-", ">+", "|2", ">9", "|0", "|-1", "|+ #c", "|10",
];

#[rustfmt::skip]
pub const ESCAPES: &[&str] = &[
    "\\0", "\\a", "\\e", "\\x41", "\\xZZ", "\\u00e9", "\\uD800", "\\uDFFF", "\\U0001F600",
    "\\U00110000", "\\N", "\\_", "\\L", "\\P", "\\q", "\\", "\\\n", "''", "\\\"",
];
