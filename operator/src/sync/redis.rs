//! The Redis recipe, for bindings that name a logical database index on
//! one server: keys are copied server-side (`COPY ... DB`) into a staging
//! index, verified against the source with a digest of every key's value,
//! and swapped in with the atomic `SWAPDB`. The staging index is the
//! server's highest (`databases - 1`); turnout uses it only when it is empty
//! or its own. Backups are the `RESTORE` commands of every key (RESP),
//! loaded back with `redis-cli --pipe`.
//!
//! Copies between two Redis servers are not supported yet. The password
//! reaches `redis-cli` as `REDISCLI_AUTH`.

use super::SyncError;
use super::db::{Db, Fingerprint};
use crate::runtime::stream::{DataExec, ExecSpec, SecretValue};

/// Marks the staging index as turnout's while a copy is under way.
pub const MARKER: &str = "__turnout_staging__";

/// Every key of the current index once, by SCAN (KEYS would block the
/// server for one long call on a large keyspace; SCAN may repeat a key, so
/// repeats are dropped). Prepended to the scripts below.
const EACH_KEY: &str = r"
local function each_key(f)
  local seen, cursor = {}, '0'
  repeat
    local r = redis.call('SCAN', cursor, 'COUNT', 1000)
    cursor = r[1]
    for _, k in ipairs(r[2]) do
      if not seen[k] then seen[k] = true f(k) end
    end
  until cursor == '0'
end
";

/// Key names and values in a canonical form: a hash table's DUMP depends on
/// its iteration order, which two equal sets or hashes need not share.
const FINGERPRINT: &str = r"
local function canon(k, t)
  if t == 'string' then return redis.call('GET', k) end
  if t == 'list' then return table.concat(redis.call('LRANGE', k, 0, -1), '\0') end
  if t == 'set' then
    local m = redis.call('SMEMBERS', k) table.sort(m) return table.concat(m, '\0')
  end
  if t == 'zset' then return table.concat(redis.call('ZRANGE', k, 0, -1, 'WITHSCORES'), '\0') end
  if t == 'hash' then
    local h = redis.call('HGETALL', k)
    local p = {}
    for i = 1, #h, 2 do p[#p + 1] = h[i] .. '\1' .. h[i + 1] end
    table.sort(p)
    return table.concat(p, '\0')
  end
  return redis.call('DUMP', k)
end
local keys = {}
each_key(function(k) if k ~= ARGV[1] then keys[#keys + 1] = k end end)
table.sort(keys)
local parts = {}
for _, k in ipairs(keys) do
  local t = redis.call('TYPE', k)['ok']
  parts[#parts + 1] = k .. '\0' .. t .. '\0' .. canon(k, t)
end
return {tostring(#parts), redis.sha1hex(table.concat(parts, '\0'))}
";

const COPY: &str = r"
local n = 0
each_key(function(k)
  redis.call('COPY', k, k, 'DB', ARGV[1], 'REPLACE')
  n = n + 1
end)
return n
";

/// Every key as a RESTORE command in RESP, with its remaining time to live.
const BACKUP: &str = r"
local out = {}
local function bulk(s) return '$' .. #s .. '\r\n' .. s .. '\r\n' end
each_key(function(k)
  if k ~= ARGV[1] then
    local ttl = redis.call('PTTL', k)
    if ttl < 0 then ttl = 0 end
    out[#out + 1] = '*5\r\n' .. bulk('RESTORE') .. bulk(k) .. bulk(tostring(ttl)) .. bulk(redis.call('DUMP', k)) .. bulk('REPLACE')
  end
end)
return table.concat(out)
";

fn script(body: &str) -> String {
    format!("{EACH_KEY}{body}")
}

fn env(db: &Db) -> Vec<(String, SecretValue)> {
    db.password
        .iter()
        .map(|p| ("REDISCLI_AUTH".to_string(), p.clone()))
        .collect()
}

/// redis-cli on database `index`; `-e` makes an error reply a failing exit.
fn cli(db: &Db, index: &str, args: &[&str]) -> ExecSpec {
    let mut argv = vec!["redis-cli", "--no-auth-warning", "-e", "--raw", "-n", index];
    argv.extend_from_slice(args);
    db.exec(argv)
        .with_env(env(db))
        .with_timeout(db.timeouts.query)
}

async fn run<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    index: &str,
    args: &[&str],
) -> Result<Vec<String>, SyncError> {
    let spec = cli(db, index, args);
    let out = rt.capture(&spec, None, 16 * 1024 * 1024).await?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // redis-cli exits 0 on a server error reply; the reply says ERR/NOAUTH/WRONGPASS.
    let first = text.lines().next().unwrap_or("");
    if out.exit_code != 0
        || ["ERR", "NOAUTH", "WRONGPASS", "NOPERM"]
            .iter()
            .any(|e| first.starts_with(e))
    {
        return Err(SyncError::Command {
            what: format!(
                "redis-cli {} on {}",
                args.first().unwrap_or(&""),
                db.at.container
            ),
            code: out.exit_code,
            stderr: format!("{} {}", first, out.stderr.trim())
                .trim()
                .to_string(),
        });
    }
    Ok(text.lines().map(str::to_string).collect())
}

pub async fn exists<R: DataExec>(rt: &R, db: &Db<'_>, index: &str) -> Result<bool, SyncError> {
    let n = run(rt, db, index, &["DBSIZE"]).await?;
    Ok(n.first().and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) > 0)
}

pub async fn fingerprint<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    index: &str,
) -> Result<Fingerprint, SyncError> {
    let out = run(rt, db, index, &["EVAL", &script(FINGERPRINT), "0", MARKER]).await?;
    let keys = out.first().and_then(|n| n.parse().ok()).unwrap_or(0);
    let digest = out.get(1).cloned().unwrap_or_default();
    Ok(Fingerprint {
        tables: vec![("keys".to_string(), keys, digest)],
        views: Vec::new(),
    })
}

/// The staging index: the server's highest, when it is free or ours.
pub async fn staging<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &str,
    ours: bool,
) -> Result<String, SyncError> {
    let conf = run(rt, db, "0", &["CONFIG", "GET", "databases"]).await?;
    let count: u32 = conf.get(1).and_then(|n| n.parse().ok()).unwrap_or(16);
    let index = count.saturating_sub(1).to_string();
    if index == target {
        return Err(SyncError::Unsupported {
            binding: target.to_string(),
            message: format!(
                "db {index} is the server's last index, which turnout uses as staging; bind another index"
            ),
        });
    }
    let marked = run(rt, db, &index, &["EXISTS", MARKER])
        .await?
        .first()
        .map(String::as_str)
        == Some("1");
    if exists(rt, db, &index).await? && !marked && !ours {
        return Err(SyncError::Unsupported {
            binding: target.to_string(),
            message: format!(
                "db {index} (the server's last index, turnout's staging) holds keys that are not turnout's; empty it or raise `databases`"
            ),
        });
    }
    Ok(index)
}

pub async fn recreate<R: DataExec>(rt: &R, db: &Db<'_>, index: &str) -> Result<(), SyncError> {
    run(rt, db, index, &["FLUSHDB"]).await?;
    run(rt, db, index, &["SET", MARKER, "1"]).await.map(|_| ())
}

pub async fn drop_db<R: DataExec>(rt: &R, db: &Db<'_>, index: &str) -> Result<(), SyncError> {
    run(rt, db, index, &["FLUSHDB"]).await.map(|_| ())
}

/// Copies every key of `from` into `to` on the same server.
pub async fn transfer<R: DataExec>(
    rt: &R,
    src: &Db<'_>,
    from: &str,
    dst: &Db<'_>,
    to: &str,
) -> Result<u64, SyncError> {
    // One server: the same container on the same engine (a container of
    // the same name on another host is another server).
    if src.at.container != dst.at.container || src.at.side != dst.at.side {
        return Err(SyncError::Unsupported {
            binding: dst.at.database.clone(),
            message: format!(
                "copying between two Redis servers ({} and {}) is not supported yet; bind both versions to one server",
                src.at.container, dst.at.container
            ),
        });
    }
    let n = run(rt, src, from, &["EVAL", &script(COPY), "0", to]).await?;
    Ok(n.first().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// SWAPDB puts the staging keys in place atomically; the previous keys end
/// up in staging and are dropped (the caller backed them up).
pub async fn swap<R: DataExec>(
    rt: &R,
    db: &Db<'_>,
    target: &str,
    staging: &str,
) -> Result<(), SyncError> {
    run(rt, db, "0", &["SWAPDB", target, staging]).await?;
    run(rt, db, target, &["DEL", MARKER]).await?;
    run(rt, db, staging, &["FLUSHDB"]).await.map(|_| ())
}

/// Prints every key of `index` as RESTORE commands (the backup format),
/// then a newline of redis-cli's own.
pub fn dump(db: &Db, index: &str) -> ExecSpec {
    let mut spec = cli(db, index, &["EVAL", &script(BACKUP), "0", MARKER]);
    spec.timeout = Some(db.timeouts.stream_idle);
    spec
}

/// Replays RESTORE commands from stdin into `index`.
pub fn load(db: &Db, index: &str) -> ExecSpec {
    let mut spec = cli(db, index, &["--pipe"]);
    spec.argv.retain(|a| a != "--raw");
    spec.timeout = Some(db.timeouts.stream_idle);
    spec
}

/// Checks a backup file: a sequence of complete `RESTORE key ttl value
/// REPLACE` commands in RESP, then redis-cli's newline, and nothing else.
/// Returns the number of keys it restores. A backup is kept only when this
/// holds: an exit code of 0 alone proves nothing about the content.
pub async fn check_backup(path: &std::path::Path) -> std::io::Result<u64> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut r = BufReader::new(tokio::fs::File::open(path).await?);
    let mut keys = 0u64;
    let mut line = Vec::new();
    loop {
        line.clear();
        // Headers are short: a line without an end is not read forever.
        if (&mut r).take(32).read_until(b'\n', &mut line).await? == 0 {
            return Err(bad("the backup ends without redis-cli's final newline"));
        }
        if line == b"\n" {
            // redis-cli's newline must be the very end.
            return match r.read_u8().await {
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(keys),
                _ => Err(bad("bytes after the end of the backup")),
            };
        }
        if line != b"*5\r\n" {
            return Err(bad("expected a RESTORE command"));
        }
        for i in 0..5 {
            line.clear();
            (&mut r).take(32).read_until(b'\n', &mut line).await?;
            let len: usize = line
                .strip_prefix(b"$")
                .and_then(|l| l.strip_suffix(b"\r\n"))
                .and_then(|n| std::str::from_utf8(n).ok())
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| bad("expected a bulk string"))?;
            if i == 0 {
                let mut name = vec![0u8; len.min(16) + 2];
                r.read_exact(&mut name).await?;
                if name != b"RESTORE\r\n" {
                    return Err(bad("a command other than RESTORE"));
                }
                continue;
            }
            // Values can be large: skip them without holding them.
            let len = u64::try_from(len).map_err(|_| bad("a bulk string too long"))?;
            let skipped = tokio::io::copy(&mut (&mut r).take(len), &mut tokio::io::sink()).await?;
            let mut end = [0u8; 2];
            r.read_exact(&mut end).await?;
            if skipped != len || &end != b"\r\n" {
                return Err(bad("a truncated RESTORE command"));
            }
        }
        keys += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn check(bytes: &[u8]) -> Result<u64, String> {
        let path = std::env::temp_dir().join(format!(
            "turnout-redis-backup-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::write(&path, bytes).unwrap();
        let r = check_backup(&path).await.map_err(|e| e.to_string());
        std::fs::remove_file(&path).unwrap();
        r
    }

    fn restore(key: &str, value: &[u8]) -> Vec<u8> {
        let mut out = b"*5\r\n".to_vec();
        for part in [
            b"RESTORE".as_slice(),
            key.as_bytes(),
            b"0",
            value,
            b"REPLACE",
        ] {
            out.extend_from_slice(format!("${}\r\n", part.len()).as_bytes());
            out.extend_from_slice(part);
            out.extend_from_slice(b"\r\n");
        }
        out
    }

    #[tokio::test]
    async fn a_backup_counts_only_when_every_command_is_whole() {
        let mut good = restore("a", b"\x00\x01v\r\nbinary");
        good.extend(restore("b", b"x"));
        good.push(b'\n');
        assert_eq!(check(&good).await, Ok(2));
        assert_eq!(check(b"\n").await, Ok(0), "an empty database");
        // What an error reply leaves when only the exit code is looked at.
        assert!(
            check(b"ERR The user executing the script can't run this command\n")
                .await
                .is_err()
        );
        assert!(
            check(&good[..good.len() - 1]).await.is_err(),
            "no final newline"
        );
        assert!(
            check(&good[..good.len() - 5]).await.is_err(),
            "cut inside a value"
        );
        let mut extra = good.clone();
        extra.extend_from_slice(b"junk");
        assert!(check(&extra).await.is_err(), "bytes after the end");
        let mut other = restore("a", b"v");
        other[8..15].copy_from_slice(b"FLUSHDB");
        other.push(b'\n');
        assert!(check(&other).await.is_err(), "a command other than RESTORE");
        assert!(check(&[b'x'; 100]).await.is_err(), "a line without an end");
    }
}
