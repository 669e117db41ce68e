//! Cross-engine copy benchmark (docs/benchmarks.md): `turnout sync
//! --source-engine` from a MariaDB on the machine's usual engine into one
//! on a second engine (scripts/second-engine.sh), against the raw pipe a
//! person would write, `docker exec SRC mariadb-dump | docker -H OTHER exec
//! -i DST mariadb`, on the same data in the same run; each with and without
//! compression (gzip -1 inside the source's container, gunzip inside the
//! target's).
//!
//! Prints figures and a `RESULT ... MET|MISSED` line per target; asserts
//! only that every copy is complete (equal row counts). Run with `make
//! bench` or `cargo bench -p turnout-e2e --bench promote`. Knobs:
//! BENCH_PROMOTE_MB (source size, default 110), BENCH_PROMOTE_RUNS
//! (default 3).

#[path = "common/measure.rs"]
mod measure;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use measure::{env_num, median, run_measured};
use turnout_e2e::second::SecondEngine;
use turnout_e2e::{
    BUSYBOX, MARIADB, PlanBuilder, mariadb_on, output_text, require_docker, temp_dir,
};

const SOURCE: &str = "bench-promote-src";
const TARGET: &str = "bench-promote-dst";
const PASSWORD: &str = "bench-Pw-2";
const DUMP: &str = "mariadb-dump -uroot --single-transaction --hex-blob --skip-triggers --default-character-set=utf8mb4";
const LOAD: &str = "mariadb -uroot --default-character-set=utf8mb4";

fn plan(name: &str, port: u16, env: (&str, &str), secret: &Path) -> String {
    let db = format!("{name}-mariadb");
    PlanBuilder::new(name)
        .environment(env.0, env.1)
        .infrastructure(
            MARIADB
                .container(&db, port, &format!("{name}-data"), "pw", secret)
                .admin_secret("pw"),
        )
        .version("a", |v| v.database("big", &db, "bench_a"))
        .version("idle", |v| v)
        .select("idle")
        .yaml()
}

fn column(out: &Output, n: usize) -> Option<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("big "))
        .and_then(|l| l.split_whitespace().nth(n))
        .map(str::to_string)
}

fn main() {
    require_docker(&[BUSYBOX, MARIADB.image]);
    let mb = env_num("BENCH_PROMOTE_MB", 110);
    let runs = env_num("BENCH_PROMOTE_RUNS", 3) as usize;
    let bin = turnout_e2e::turnout_bin();
    let dir = temp_dir(SOURCE);
    let secret = dir.join("pw");
    std::fs::write(&secret, PASSWORD).expect("secret");
    let other = SecondEngine::start(
        "bench-promote-engine",
        "benchprom0",
        "172.31.244.1/24",
        &[BUSYBOX, MARIADB.image],
    )
    .cleaning(TARGET);
    let remote = other.address();
    let (src_db, dst_db) = (format!("{SOURCE}-mariadb"), format!("{TARGET}-mariadb"));
    let (src_file, dst_file) = (dir.join("source.yaml"), dir.join("target.yaml"));
    std::fs::write(&src_file, plan(SOURCE, 22950, ("local", "dev"), &secret)).expect("plan");
    std::fs::write(
        &dst_file,
        plan(TARGET, 22951, ("test-cloud", "test"), &secret),
    )
    .expect("plan");
    for (engine, file, home) in [
        (None, &src_file, "source"),
        (Some(remote.as_str()), &dst_file, "target"),
    ] {
        let mut c = Command::new(&bin);
        if let Some(e) = engine {
            c.args(["--engine", e]);
        }
        let out = c
            .arg("apply")
            .arg(file)
            .arg("--state-dir")
            .arg(dir.join(home).join("state"))
            .arg("--data-dir")
            .arg(dir.join(home).join("data"))
            .output()
            .expect("apply");
        assert!(out.status.success(), "{}", output_text(&out));
    }

    // About 1.1 kB of row data per row, as the same-engine bench.
    let rows = mb * 1_000_000 / 1_100;
    eprintln!("seeding bench_a with {rows} rows (~{mb} MB) ...");
    mariadb_on(
        None,
        &src_db,
        &format!(
            "DROP DATABASE IF EXISTS bench_a; CREATE DATABASE bench_a; \
             CREATE TABLE bench_a.payload (id INT PRIMARY KEY, a VARCHAR(64), b TEXT, c BLOB) ENGINE=InnoDB; \
             USE bench_a; INSERT INTO payload SELECT seq, MD5(seq), REPEAT(MD5(seq), 28), UNHEX(REPEAT(MD5(seq * 7), 4)) FROM seq_1_to_{rows};"
        ),
    );
    let count = |db: &str| {
        mariadb_on(
            Some(&remote),
            &dst_db,
            &format!("SELECT COUNT(*) FROM {db}.payload"),
        )
    };

    let raw = |compress: bool| {
        mariadb_on(
            Some(&remote),
            &dst_db,
            "DROP DATABASE IF EXISTS bench_raw; CREATE DATABASE bench_raw",
        );
        let pipe = if compress {
            format!(
                "docker exec {src_db} bash -o pipefail -c '{DUMP} bench_a | gzip -1 -c' \
                 | docker -H {remote} exec -i {dst_db} bash -o pipefail -c 'gzip -d -c | {LOAD} bench_raw'"
            )
        } else {
            format!(
                "docker exec {src_db} {DUMP} bench_a | docker -H {remote} exec -i {dst_db} {LOAD} bench_raw"
            )
        };
        let t0 = Instant::now();
        let ok = Command::new("bash")
            .args(["-o", "pipefail", "-c", &pipe])
            .status()
            .expect("bash")
            .success();
        assert!(ok, "the raw pipe failed: {pipe}");
        let took = t0.elapsed().as_secs_f64();
        assert_eq!(count("bench_raw"), rows.to_string());
        took
    };
    let sync = |compress: bool| {
        mariadb_on(Some(&remote), &dst_db, "DROP DATABASE IF EXISTS bench_a");
        let mut c = Command::new(&bin);
        c.args(["--engine", &remote, "sync", "--source-engine"])
            .arg("unix:///var/run/docker.sock")
            .arg("--source-plan")
            .arg(&src_file)
            .args([
                "--from",
                "a",
                "--to",
                "a",
                "--no-backup",
                "--allow-overwrite-newer",
            ])
            .args(if compress { vec!["--compress"] } else { vec![] })
            .arg(&dst_file)
            .arg("--state-dir")
            .arg(dir.join("target/state"))
            .arg("--data-dir")
            .arg(dir.join("target/data"));
        let (took, peak, out) = run_measured(&mut c);
        assert!(out.status.success(), "{}", output_text(&out));
        assert_eq!(count("bench_a"), rows.to_string());
        let bytes: u64 = column(&out, 3).and_then(|b| b.parse().ok()).unwrap_or(0);
        let stream = column(&out, 8)
            .and_then(|ms| ms.trim_end_matches("ms").parse::<f64>().ok())
            .map_or(f64::NAN, |ms| ms / 1000.0);
        (took.as_secs_f64(), stream, bytes, peak)
    };

    let mut figures = Vec::new();
    for compress in [false, true] {
        let (mut raw_s, mut whole_s, mut stream_s) = (Vec::new(), Vec::new(), Vec::new());
        let (mut bytes, mut peak) = (0, 0);
        for i in 0..runs {
            raw_s.push(raw(compress));
            let (whole, stream, b, p) = sync(compress);
            whole_s.push(whole);
            stream_s.push(stream);
            bytes = b;
            peak = peak.max(p);
            eprintln!(
                "compress={compress} run {}: raw {:.2}s, turnout stream {:.2}s, whole {:.2}s",
                i + 1,
                raw_s[i],
                stream_s[i],
                whole_s[i]
            );
        }
        figures.push((
            compress,
            median(raw_s),
            median(stream_s),
            median(whole_s),
            bytes,
            peak,
        ));
    }
    mariadb_on(Some(&remote), &dst_db, "DROP DATABASE IF EXISTS bench_raw");

    println!(
        "machine: {} cores; bench_a {rows} rows (~{mb} MB of row data); two engines on one machine, over Unix sockets",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for (compress, raw_m, stream_m, whole_m, bytes, peak) in &figures {
        let what = if *compress { "gzip -1" } else { "plain" };
        println!(
            "{what:8} raw pipe {raw_m:.2} s; turnout stream {stream_m:.2} s, whole sync {whole_m:.2} s; {:.1} MB on the wire; peak RSS {:.1} MB",
            *bytes as f64 / 1e6,
            *peak as f64 / 1024.0
        );
        let ratio = raw_m / stream_m;
        println!(
            "RESULT promote-stream-{} {ratio:.2} (turnout/raw throughput, target >= 0.90) {}",
            if *compress { "compressed" } else { "plain" },
            if ratio >= 0.9 { "MET" } else { "MISSED" }
        );
        println!(
            "RESULT promote-whole-{} {:.2} (inspection, verification and swap included; no target)",
            if *compress { "compressed" } else { "plain" },
            raw_m / whole_m
        );
    }
}
