//! Data sync benchmark (docs/benchmarks.md): turnout's streaming MySQL copy
//! vs a raw `dump | load` pipe between the same containers, side by side in
//! one run, and turnout's peak memory for a small and a large database.
//!
//! Prints figures and a `RESULT ... MET|MISSED` line per target; asserts only
//! that every copy is complete (equal row counts). Run with `make bench` or
//! `cargo bench -p turnout-e2e --bench sync`. Knobs: BENCH_SYNC_MB (target
//! size, default 220), BENCH_SYNC_RUNS (default 3).

#[path = "common/measure.rs"]
mod measure;

use std::process::Command;
use std::time::Instant;

use measure::{env_num, median, run_measured};

use turnout_e2e::{BUSYBOX, MARIADB, PlanBuilder, docker, require_docker, temp_dir};

const PLAN: &str = "bench-sync";
const DB: &str = "bench-sync-mariadb";
const PASSWORD: &str = "bench-Pw-1";

fn sql(statement: &str) -> String {
    docker(&[
        "exec",
        DB,
        "mariadb",
        "-uroot",
        "--batch",
        "--skip-column-names",
        "-e",
        statement,
    ])
}

fn seed(db: &str, rows: u64) {
    sql(&format!(
        "DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; \
         CREATE TABLE {db}.payload (id INT PRIMARY KEY, a VARCHAR(64), b TEXT, c BLOB) ENGINE=InnoDB; \
         USE {db}; INSERT INTO payload SELECT seq, MD5(seq), REPEAT(MD5(seq), 28), UNHEX(REPEAT(MD5(seq * 7), 4)) FROM seq_1_to_{rows};"
    ));
}

fn main() {
    require_docker(&[BUSYBOX, "turnout/mariadb:demo"]);
    let mb = env_num("BENCH_SYNC_MB", 220);
    let runs = env_num("BENCH_SYNC_RUNS", 3) as usize;
    let bin = turnout_e2e::turnout_bin();
    let dir = temp_dir(PLAN);
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).expect("secret");
    // MariaDB and four versions with nothing but a database each: a and b
    // hold the big one, small and smallb the small one.
    let plan = PlanBuilder::new(PLAN)
        .infrastructure(
            MARIADB
                .container(DB, 22906, &format!("{PLAN}-data"), "pw", &secret)
                .admin_secret("pw"),
        )
        .version("a", |v| v.database("big", DB, "bench_a"))
        .version("b", |v| v.database("big", DB, "bench_b"))
        .version("small", |v| v.database("small", DB, "bench_small_a"))
        .version("smallb", |v| v.database("small", DB, "bench_small_b"))
        .select("a")
        .yaml();
    let file = dir.join("plan.yaml");
    std::fs::write(&file, &plan).expect("plan");
    let apply = Command::new(&bin)
        .arg("apply")
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .output()
        .expect("apply");
    assert!(
        apply.status.success(),
        "{}",
        String::from_utf8_lossy(&apply.stdout)
    );

    // About 1.1 kB of row data per row.
    let rows = mb * 1_000_000 / 1_100;
    eprintln!("seeding bench_a with {rows} rows (~{mb} MB) ...");
    seed("bench_a", rows);
    seed("bench_small_a", rows / 10);
    sql(
        "DROP DATABASE IF EXISTS bench_b; DROP DATABASE IF EXISTS bench_small_b; DROP DATABASE IF EXISTS bench_raw",
    );
    let size_mb: f64 = sql("SELECT SUM(DATA_LENGTH + INDEX_LENGTH) / 1e6 FROM information_schema.TABLES WHERE TABLE_SCHEMA='bench_a'")
        .parse()
        .unwrap_or(0.0);

    let sync = |from: &str, to: &str, extra: &[&str]| {
        let mut c = Command::new(&bin);
        c.args([
            "sync",
            "--from",
            from,
            "--to",
            to,
            "--allow-overwrite-newer",
        ])
        .args(extra)
        .arg(&file)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--data-dir")
        .arg(dir.join("data"));
        run_measured(&mut c)
    };
    let bytes_of = |out: &std::process::Output, binding: &str| -> u64 {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with(binding))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let raw = || {
        sql("DROP DATABASE IF EXISTS bench_raw; CREATE DATABASE bench_raw");
        let pipe = format!(
            "docker exec {DB} mariadb-dump -uroot --single-transaction --hex-blob --skip-triggers --default-character-set=utf8mb4 bench_a \
             | docker exec -i {DB} mariadb -uroot --default-character-set=utf8mb4 bench_raw"
        );
        let t0 = Instant::now();
        let ok = Command::new("bash")
            .args(["-o", "pipefail", "-c", &pipe])
            .status()
            .expect("bash")
            .success();
        assert!(ok, "the raw pipe failed");
        t0.elapsed()
    };

    let stream_s_of = |out: &std::process::Output| -> f64 {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.starts_with("big"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|n| n.trim_end_matches("ms").parse::<f64>().ok())
            .map_or(f64::NAN, |ms| ms / 1000.0)
    };
    let mut stream_s = Vec::new();
    let mut raw_s = Vec::new();
    let mut turnout_s = Vec::new();
    let mut bytes = 0;
    let mut peak_big = 0;
    for i in 0..runs {
        raw_s.push(raw().as_secs_f64());
        // Force a full copy each time: empty the target first (as ours, so the guard allows it).
        let (t, peak, out) = sync("a", "b", &["--no-backup"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bytes = bytes_of(&out, "big");
        stream_s.push(stream_s_of(&out));
        peak_big = peak_big.max(peak);
        turnout_s.push(t.as_secs_f64());
        assert_eq!(
            sql("SELECT COUNT(*) FROM bench_b.payload"),
            rows.to_string()
        );
        assert_eq!(
            sql("SELECT COUNT(*) FROM bench_raw.payload"),
            rows.to_string()
        );
        eprintln!(
            "run {}: raw {:.2}s, turnout {:.2}s",
            i + 1,
            raw_s[i],
            turnout_s[i]
        );
        sql("DROP DATABASE bench_b");
    }
    let (raw_m, ours_m, stream_m) = (median(raw_s), median(turnout_s), median(stream_s));
    let mbs = |s: f64| bytes as f64 / 1e6 / s;
    // The backup, separately: a full copy, then a copy over that target (changed by one row) with its backup.
    let (_, _, first) = sync("a", "b", &["--no-backup"]);
    assert!(first.status.success());
    sql("INSERT INTO bench_b.payload (id, a) VALUES (0, 'changed')");
    let (with_backup, _, out) = sync("a", "b", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(".sql"),
        "a backup was taken"
    );
    let (t_backup, _, out2) = sync("a", "b", &[]); // target equals the source: a no-op rerun
    assert!(out2.status.success());
    sql("DROP DATABASE IF EXISTS bench_small_b");
    let (_, peak_small, out3) = sync("small", "smallb", &["--no-backup"]);
    assert!(
        out3.status.success(),
        "{}",
        String::from_utf8_lossy(&out3.stderr)
    );

    println!(
        "machine: {} cores; database bench_a {size_mb:.0} MB on disk, dump stream {:.0} MB",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bytes as f64 / 1e6
    );
    println!(
        "raw dump|load pipe       median {raw_m:.2} s  {:.1} MB/s",
        mbs(raw_m)
    );
    println!(
        "turnout sync (no backup) median {ours_m:.2} s  {:.1} MB/s  (includes fingerprints, staging, verify, swap)",
        mbs(ours_m)
    );
    println!(
        "turnout's stream alone      median {stream_m:.2} s  {:.1} MB/s",
        mbs(stream_m)
    );
    println!(
        "throughput ratio, stream: turnout/raw = {:.2}; whole sync: {:.2}",
        raw_m / stream_m,
        raw_m / ours_m
    );
    println!(
        "turnout sync over an existing target with its backup: {:.2} s (backup about {:.2} s of it); a rerun on an identical target: {:.2} s",
        with_backup.as_secs_f64(),
        with_backup.as_secs_f64() - ours_m,
        t_backup.as_secs_f64()
    );
    println!(
        "turnout peak RSS: {:.1} MB copying {mb} MB, {:.1} MB copying {} MB",
        peak_big as f64 / 1024.0,
        peak_small as f64 / 1024.0,
        mb / 10
    );
    let ratio = raw_m / stream_m;
    println!(
        "RESULT sync-stream-throughput {:.2} (target >= 0.90) {}",
        ratio,
        if ratio >= 0.9 { "MET" } else { "MISSED" }
    );
    let whole = raw_m / ours_m;
    println!(
        "RESULT sync-whole-throughput {:.2} (target >= 0.90; inspection and verification included) {}",
        whole,
        if whole >= 0.9 { "MET" } else { "MISSED" }
    );
    let flat = (peak_big as f64) <= (peak_small as f64) * 1.5 + 4096.0;
    println!(
        "RESULT sync-memory-flat {} kB vs {} kB {}",
        peak_big,
        peak_small,
        if flat { "MET" } else { "MISSED" }
    );

    let _ = Command::new("docker").args(["rm", "-f", DB]).output();
}
