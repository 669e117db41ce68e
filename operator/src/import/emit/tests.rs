//! The plan writer: what it keeps, what it withholds, and that text from
//! the host stays where it belongs.

use super::super::{FoundPort, Layout};
use super::*;

fn names() -> Names<'static> {
    Names {
        plan: "host",
        selection: "host",
        secrets_dir: Path::new("/etc/turnout/secrets"),
    }
}

#[test]
fn the_plan_parses_keeps_every_mount_and_writes_no_secret() {
    let db = Found {
        name: "test-mysql".into(),
        image: "mariadb:10.11".into(),
        env: vec![
            ("MYSQL_ROOT_PASSWORD".into(), "hunter2".into()),
            ("MYSQL_DATABASE".into(), "future_users".into()),
        ],
        ports: vec![FoundPort {
            host: 3306,
            container: 3306,
            udp: false,
            ip: None,
        }],
        mounts: vec![FoundMount::Volume {
            name: "a".repeat(64),
            path: "/var/lib/mysql".into(),
            read_only: false,
            anonymous: true,
        }],
        running: true,
        ..Default::default()
    };
    let svc = Found {
        name: "future-service-1".into(),
        image: "web:1".into(),
        command: vec!["httpd".into(), "-f".into()],
        ports: vec![FoundPort {
            host: 8001,
            container: 8080,
            udp: false,
            ip: Some("127.0.0.1".into()),
        }],
        mounts: vec![
            FoundMount::Bind {
                host: "/srv/www".into(),
                path: "/www".into(),
                read_only: true,
            },
            FoundMount::Other {
                kind: "tmpfs".into(),
                path: "/tmp".into(),
            },
        ],
        health: Some(vec!["wget".into(), "-q".into(), "localhost:8080".into()]),
        running: true,
        unsupported: vec!["restart policy always".into()],
        ..Default::default()
    };
    let layout = Layout {
        infrastructure: vec!["test-".into()],
        versions: Vec::new(),
    };
    let (yaml, warnings) = to_yaml(&layout.sort(vec![db, svc]), &names());
    assert!(!yaml.contains("hunter2"), "{yaml}");
    let docs = turnout_crds::load::Documents::parse(Path::new("x"), &yaml)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let plan = &docs.plans[0].value.spec;
    let db = &plan.infrastructure[0];
    assert_eq!(db.volumes[0].name, "a".repeat(64));
    assert_eq!(db.secrets[0].path, "/run/secrets/mysql-root-password");
    assert!(db.env.iter().any(|e| e.name == "MYSQL_ROOT_PASSWORD_FILE"));
    let svc = &plan.versions[0].containers[0];
    assert_eq!(svc.binds[0].host, "/srv/www");
    assert_eq!(svc.ports[0].range.as_deref(), Some("ports-8000"));
    assert_eq!(plan.versions[0].ranges[0].from.get(), 8000);
    assert_eq!(docs.selections[0].value.spec.active_version, "future");
    for w in [
        "MYSQL_ROOT_PASSWORD looked like a secret",
        "tmpfs",
        "restart policy",
    ] {
        assert!(warnings.iter().any(|x| x.contains(w)), "{w}: {warnings:?}");
    }
}

#[test]
fn text_from_the_host_stays_inside_its_comment_and_its_directory() {
    let svc = Found {
        name: "future-web".into(),
        image: "web:1\nkind: x".into(),
        env: vec![("A/../../../etc/shadow_TOKEN".into(), "t".into())],
        mounts: vec![FoundMount::Other {
            kind: "tmpfs".into(),
            path: "/tmp\n  adopt: false".into(),
        }],
        unsupported: vec!["labels a\n    - name: evil\n      image: x".into()],
        ..Default::default()
    };
    let layout = Layout {
        infrastructure: Vec::new(),
        versions: Vec::new(),
    };
    let (yaml, warnings) = to_yaml(&layout.sort(vec![svc]), &names());
    let docs = turnout_crds::load::Documents::parse(Path::new("x"), &yaml)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let plan = &docs.plans[0].value.spec;
    assert!(plan.adopt, "{yaml}");
    let cs = &plan.versions[0].containers;
    assert_eq!(cs.len(), 1, "{yaml}");
    assert_eq!(cs[0].image, "web:1\nkind: x");
    let file = cs[0].secrets[0].from.file.as_deref().unwrap_or_default();
    assert_eq!(file, "/etc/turnout/secrets/future-web/a-etc-shadow-token");
    assert!(warnings.iter().all(|w| !w.contains('\n')), "{warnings:?}");
    assert!(plan.infrastructure.is_empty());
}
