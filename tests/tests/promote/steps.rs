//! The promotion test's steps: a copy between engines and its lineage,
//! a divergent target, the stage rule, SIGKILL mid-stream, compression,
//! and a source written after it was copied.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use turnout_e2e::*;

use super::env::Env;
use super::{LOCAL, LOCAL_ENGINE, TEST, lineage, local_identity, test_engine};

/// local future -> test-cloud future: equal on both servers, lineage kept.
pub fn promote_and_trace(local: &Env, test: &Env, (maria, pg): (&str, &str)) -> u64 {
    let out = test
        .promote(local, "future", "future", &[])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("source engine: {LOCAL_ENGINE}"))
            && text.contains(&format!("engine: {}", test_engine())),
        "{text}"
    );
    assert_eq!(test.maria_contents("shop_future"), maria, "MariaDB copy");
    assert_eq!(test.pg_contents("ledger_future"), pg, "PostgreSQL copy");
    let q = "SELECT HEX(avatar), HEX(bio), name FROM shop_future.users WHERE id IN (1, 10, 149999) ORDER BY id";
    assert_eq!(test.sql(q), local.sql(q), "binary, NUL and unicode survive");
    let bytes = streamed(&text, "shop");
    assert!(
        bytes > 30_000_000,
        "tens of MB streamed, got {bytes}: {text}"
    );

    let records = lineage(test);
    // The target is on the engine this turnout acts on: its plain name.
    let key = format!("{TEST}-mariadb/shop_future");
    let l = &records[&key]["lineage"];
    assert_eq!(l["environment"], "local", "{records}");
    assert_eq!(l["version"], "future", "{records}");
    assert_eq!(l["engine"], local_identity(), "{records}");
    assert_eq!(l["database"], format!("{LOCAL}-mariadb/shop_future"));
    let human = Command::new(turnout_bin())
        .args(["lineage", "--data-dir"])
        .arg(&test.data)
        .output()
        .expect("turnout runs");
    let human = output_text(&human);
    eprintln!("turnout lineage on test-cloud:\n{human}");
    let row = human
        .lines()
        .find(|l| l.starts_with(&format!("{TEST}-postgres/ledger_future")))
        .unwrap_or_else(|| panic!("no lineage row for the ledger: {human}"));
    assert!(
        row.contains("written")
            && row.contains(&format!(
                "{LOCAL}-postgres/ledger_future on {}",
                local_identity()
            ))
            && row.contains(" local ")
            && row.contains(" future "),
        "{human}"
    );
    // The source was read, and is remembered under its engine.
    // The source is recorded under its engine's identity.
    let source_key = format!("{} {LOCAL}-mariadb/shop_future", local_identity());
    assert_eq!(records[&source_key]["read"], true, "{records}");
    bytes
}

/// The BYTES column of binding `binding` in `turnout sync`'s table.
fn streamed(text: &str, binding: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(&format!("{binding} ")))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|b| b.parse().ok())
        .unwrap_or(0)
}

/// `--compress`: gzip inside the source's container, gunzip inside the
/// target's; the same data arrives, in fewer bytes.
pub fn compressed_on_the_wire(local: &Env, test: &Env, plain: u64) {
    local.sql("UPDATE shop_future.orders SET amount = amount + 1 WHERE id % 2 = 0");
    let after = local.maria_contents("shop_future");
    let pg = local.pg_contents("ledger_future");
    local.psql(
        "ledger_future",
        "UPDATE accounts SET memo = memo || ' z' WHERE id % 2 = 0",
    );
    let pg_after = local.pg_contents("ledger_future");
    assert_ne!(pg, pg_after);
    let out = test
        .promote(local, "future", "future", &["--compress"])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(test.maria_contents("shop_future"), after);
    assert_eq!(test.pg_contents("ledger_future"), pg_after);
    let zipped = streamed(&text, "shop");
    assert!(
        zipped > 0 && zipped * 2 < plain,
        "compressed {zipped} bytes, plain {plain}: {text}"
    );
    eprintln!("shop: {plain} bytes plain, {zipped} compressed");
}

/// A row written by hand into test-cloud's copy: the next promotion is
/// refused naming the table and the counts; told to, turnout backs the
/// target up and overwrites it.
pub fn refuse_a_target_written_since(local: &Env, test: &Env, maria: &str) {
    test.sql("INSERT INTO shop_future.users (id, name) VALUES (900001, 'written on test-cloud')");
    let written = test.maria_contents("shop_future");
    let out = test
        .promote(local, "future", "future", &[])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("users: 150000 -> 150001 rows") && text.contains("--allow-overwrite-newer"),
        "{text}"
    );
    assert_eq!(test.maria_contents("shop_future"), written, "untouched");
    let out = test
        .promote(local, "future", "future", &["--allow-overwrite-newer"])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(test.maria_contents("shop_future"), maria);
    let backups = test.data.join("backups").join(format!("{TEST}-mariadb"));
    let found = walk(&backups);
    assert!(
        !found.is_empty(),
        "the overwritten target was backed up under {}: {text}",
        backups.display()
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// test-cloud -> local is a demotion: refused naming both environments,
/// nothing written; `--force` copies.
pub fn stage_rule_holds_both_ways(local: &Env, test: &Env, maria: &str) {
    let out = local
        .promote(test, "future", "dao", &[])
        .output()
        .expect("turnout runs");
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("test-cloud") && text.contains("local") && text.contains("--force"),
        "{text}"
    );
    assert_eq!(local.maria_contents("shop_dao"), "", "nothing was copied");
    let out = local
        .promote(test, "future", "dao", &["--force"])
        .output()
        .expect("turnout runs");
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(local.maria_contents("shop_dao"), maria);
}

/// turnout SIGKILLed while the dump streams into test-cloud: the target is
/// as it was or complete, and a rerun completes it.
pub fn killed_mid_stream(local: &Env, test: &Env) {
    local.sql("UPDATE shop_future.users SET name = CONCAT(name, ' v2') WHERE id % 3 = 0");
    let (before, after) = (
        test.maria_contents("shop_future"),
        local.maria_contents("shop_future"),
    );
    assert_ne!(before, after);
    let mut done = false;
    for delay_ms in [1500, 3000, 4500, 6000] {
        let mut child = test
            .promote(local, "future", "future", &[])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("turnout starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        let now = test.maria_contents("shop_future");
        assert!(
            now == before || now == after,
            "after a kill at {delay_ms} ms the target is neither as it was nor complete:\n{now}"
        );
        if now == after {
            done = true;
            break;
        }
    }
    let out = test
        .promote(local, "future", "future", &[])
        .output()
        .expect("turnout runs");
    assert!(
        out.status.success(),
        "a rerun completes: {}",
        output_text(&out)
    );
    assert_eq!(test.maria_contents("shop_future"), after);
    eprintln!("a kill landed after the swap: {done}");
    let staging = test.sql("SHOW DATABASES");
    assert!(
        staging.lines().all(|d| !d.contains("__turnout")),
        "no staging left: {staging}"
    );
}

/// On test-cloud: future copied into dao, then future written by hand. A
/// copy back from dao into future would drop those writes: refused, naming
/// the table and the counts.
pub fn switching_back_keeps_writes_to_a_source(test: &Env) {
    test.ok(&["sync", "--from", "future", "--to", "dao"]);
    test.sql("INSERT INTO shop_future.orders (id, user_id, amount) VALUES (900001, 1, 9.99)");
    let written = test.maria_contents("shop_future");
    let out = test.run(&["sync", "--from", "dao", "--to", "future"]);
    let text = output_text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("read it as a source")
            && text.contains("orders: 100000 -> 100001 rows")
            && text.contains("--allow-overwrite-newer"),
        "{text}"
    );
    assert_eq!(test.maria_contents("shop_future"), written, "untouched");
}
