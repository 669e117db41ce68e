//! End-to-end: `turnout sync` and `restore` of Redis logical databases on a
//! real Redis server (copy via a staging index and SWAPDB).

use std::path::Path;

use turnout_e2e::*;

const PASSWORD: &str = "redis-Pw-42aa";
const PLAN: &str = "e2e-redsync";
const DB: &str = "e2e-redsync-redis";

/// Redis `DB` and versions future and dao, each a web service and its own
/// database index; future selected.
fn plan(secret: &Path) -> PlanBuilder {
    let db = REDIS.container(DB, 24679, &format!("{PLAN}-data"), "pw", secret);
    database_plan(
        PLAN,
        db.admin_secret("pw"),
        "cache",
        &[("future", 24701, "1"), ("dao", 24702, "2")],
    )
    .select("future")
}

fn redis(db: u8, args: &[&str]) -> String {
    let n = db.to_string();
    let mut a = vec!["exec", DB, "turnout-redis-cli", "--raw", "-n", &n];
    a.extend_from_slice(args);
    docker(&a)
}

/// Keys, types and values of a db, computed by the test itself.
fn contents(db: u8) -> String {
    // Values read back in a canonical order (set and hash members sorted).
    let script = "local ks = redis.call('KEYS','*') table.sort(ks) local o = {} \
        for _,k in ipairs(ks) do local t = redis.call('TYPE',k)['ok'] local v \
          if t == 'string' then v = redis.call('GET',k) \
          elseif t == 'list' then v = table.concat(redis.call('LRANGE',k,0,-1), ',') \
          elseif t == 'set' then local m = redis.call('SMEMBERS',k) table.sort(m) v = table.concat(m, ',') \
          elseif t == 'zset' then v = table.concat(redis.call('ZRANGE',k,0,-1,'WITHSCORES'), ',') \
          else local h = redis.call('HGETALL',k) local p = {} for i=1,#h,2 do p[#p+1] = h[i]..'='..h[i+1] end table.sort(p) v = table.concat(p, ',') end \
          o[#o+1] = k .. ':' .. t .. ':' .. redis.sha1hex(v) end \
        return redis.sha1hex(table.concat(o, ';')) .. ' ' .. #ks";
    redis(db, &["EVAL", script, "0"])
}

#[test]
fn redis_databases_copy_verify_guard_and_restore() {
    require_docker(&[BUSYBOX, "turnout/redis:demo"]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(PLAN);
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).unwrap();
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan(&secret).yaml()).unwrap();
    let (data, state) = (dir.join("data"), dir.join("state"));
    apply_file(&file, &data, &state);
    for db in [1u8, 2, 15] {
        redis(db, &["FLUSHDB"]);
    }
    let seed = "for i = 1, 20000 do redis.call('SET', 'user:' .. i, 'ünï ' .. i .. '\\0bin') end \
        for i = 1, 500 do redis.call('HSET', 'h:' .. i, 'a', i, 'b', 'x') redis.call('RPUSH', 'l:' .. i, 1, 2, 3) \
        redis.call('SADD', 's:' .. i, 'p', 'q') redis.call('ZADD', 'z:' .. i, i, 'm') end \
        redis.call('SET', 'expiring', 'v', 'PX', 600000) return 1";
    redis(1, &["EVAL", seed, "0"]);
    redis(2, &["SET", "old", "value"]);
    let source = contents(1);
    assert!(source.ends_with(" 22001"), "{source}");

    let turnout = |args: &[&str]| turnout_on(args, &file, &data, &state);
    let out = turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(!output_text(&out).contains(PASSWORD));
    assert_eq!(contents(2), source, "db 2 is a copy of db 1");
    assert_eq!(
        redis(15, &["DBSIZE"]),
        "0",
        "the staging index is left empty"
    );
    let ttl: i64 = redis(2, &["PTTL", "expiring"]).parse().unwrap();
    assert!(ttl > 0, "time to live is kept");

    redis(2, &["SET", "by-hand", "1"]);
    let written = contents(2);
    let refused = turnout(&["sync", "--from", "future", "--to", "dao"]);
    assert!(
        !refused.status.success() && output_text(&refused).contains("written to since"),
        "{}",
        output_text(&refused)
    );
    assert_eq!(contents(2), written);

    let forced = turnout(&[
        "sync",
        "--from",
        "future",
        "--to",
        "dao",
        "--allow-overwrite-newer",
    ]);
    assert!(forced.status.success(), "{}", output_text(&forced));
    assert_eq!(contents(2), source);

    let d = data.join("backups").join(DB).join("2");
    let backups = backup_files(&d);
    let restored = turnout(&[
        "restore",
        "--backup",
        backups.last().unwrap().to_str().expect("utf-8 path"),
    ]);
    assert!(restored.status.success(), "{}", output_text(&restored));
    assert_eq!(
        contents(2),
        written,
        "the backup restored the exact previous keys"
    );
    assert_eq!(redis(15, &["DBSIZE"]), "0");

    std::fs::write(&secret, "wrong").unwrap();
    let denied = turnout(&[
        "sync",
        "--from",
        "future",
        "--to",
        "dao",
        "--allow-overwrite-newer",
    ]);
    std::fs::write(&secret, PASSWORD).unwrap();
    assert!(!denied.status.success(), "{}", output_text(&denied));
    assert!(!output_text(&denied).contains("wrong\n") && !output_text(&denied).contains(PASSWORD));
    assert_eq!(contents(2), written);
}

#[test]
fn copies_and_backups_walk_the_keyspace_with_scan_not_keys() {
    require_docker(&[BUSYBOX, "turnout/redis:demo"]);
    let _cleanup = Cleanup(PLAN.to_string());
    remove_plan_containers(PLAN);
    let dir = temp_dir(&format!("{PLAN}-scan"));
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).unwrap();
    let file = dir.join("plan.yaml");
    std::fs::write(&file, plan(&secret).yaml()).unwrap();
    let (data, state) = (dir.join("data"), dir.join("state"));
    apply_file(&file, &data, &state);
    for db in [1u8, 2, 15] {
        redis(db, &["FLUSHDB"]);
    }
    redis(
        1,
        &[
            "EVAL",
            "for i = 1, 5000 do redis.call('SET', 'k:' .. i, i) end return 1",
            "0",
        ],
    );
    redis(2, &["SET", "previous", "value"]);
    let source = contents(1);
    // KEYS blocks a large server for one long call: turnout may not use it.
    redis(0, &["ACL", "SETUSER", "default", "-keys"]);
    let out = turnout_on(
        &["sync", "--from", "future", "--to", "dao"],
        &file,
        &data,
        &state,
    );
    redis(0, &["ACL", "SETUSER", "default", "+keys"]);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(contents(2), source);
    let backups = backup_files(&data.join("backups").join(DB).join("2"));
    assert_eq!(backups.len(), 1, "the previous keys were backed up");
}
