//! The fuzzing campaign on stable Rust (`make fuzz`, or `cargo bench -p
//! turnout-crds --bench fuzz`): the loader and every validation entry point
//! must never panic or hang, whatever the bytes.
//!
//! It feeds `FUZZ_INPUTS` inputs (default 1,000,000) made from `FUZZ_SEED`
//! by a deterministic PRNG: first every seed document truncated at every
//! byte, then random inputs (arbitrary bytes, token soups and mutations of
//! the seeds, see `tests/fuzzing/mutate.rs`). Each runs under
//! `catch_unwind` and is timed. A panic, or an input slower than
//! `FUZZ_SLOW_MS` (1000), is written to `tests/fuzz-corpus/` and the run
//! exits non-zero; an input still running after `FUZZ_HANG_SECS` (60) is
//! written there by a watchdog, which ends the run.
//!
//! `FUZZ_REPLAY=<file>` runs one saved input (a corpus file, the slowest
//! input) 20 times instead, and prints its outcome and times.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fuzzing/mod.rs"]
mod fuzzing;
#[path = "fuzz/report.rs"]
mod report;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fuzzing::entry::exercise;
use fuzzing::mutate::generate;
use fuzzing::rng::Rng;
use fuzzing::seeds::{Seed, corpus_dir, seeds};
use report::{Finding, Stats};

struct Config {
    inputs: u64,
    seed: u64,
    slow: Duration,
    hang: Duration,
}

fn env_u64(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => {
            let v = v.replace('_', "");
            let parsed = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => v.parse(),
            };
            parsed.map_err(|e| format!("{name}={v:?} is not a number: {e}"))
        }
    }
}

impl Config {
    fn from_env() -> Result<Config, String> {
        Ok(Config {
            inputs: env_u64("FUZZ_INPUTS", 1_000_000)?,
            seed: env_u64("FUZZ_SEED", 0x7475_726E_6F75_7421)?,
            slow: Duration::from_millis(env_u64("FUZZ_SLOW_MS", 1000)?),
            hang: Duration::from_secs(env_u64("FUZZ_HANG_SECS", 60)?),
        })
    }
}

/// The input being run, for the watchdog: its bytes, where it came from
/// and when it started.
struct Current {
    bytes: Vec<u8>,
    origin: String,
    started: Instant,
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fuzz: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, String> {
    if let Ok(file) = std::env::var("FUZZ_REPLAY") {
        return replay(&file);
    }
    let cfg = Config::from_env()?;
    let seeds = seeds().map_err(|e| format!("cannot read the seeds: {e}"))?;
    report::capture_panics();
    let current = Arc::new(Mutex::new(Current {
        bytes: Vec::new(),
        origin: String::new(),
        started: Instant::now(),
    }));
    let done = Arc::new(AtomicU64::new(0));
    watchdog(current.clone(), cfg.hang);
    println!(
        "fuzz: {} inputs, seed {:#x}, {} seeds ({} bytes), slow > {:?}, hang > {:?}",
        cfg.inputs,
        cfg.seed,
        seeds.len(),
        seeds.iter().map(|s| s.bytes.len()).sum::<usize>(),
        cfg.slow,
        cfg.hang
    );
    let mut stats = Stats::new(cfg.inputs);
    let started = Instant::now();
    let mut feed = |bytes: Vec<u8>, origin: String| {
        run_one(&current, bytes, origin, &mut stats, &cfg);
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(100_000) {
            println!(
                "fuzz: {n} inputs, {:.0}/s, slowest {:?}",
                n as f64 / started.elapsed().as_secs_f64(),
                stats.slowest_time()
            );
        }
        n < cfg.inputs
    };
    'truncations: for s in &seeds {
        for at in 0..=s.bytes.len() {
            let origin = format!("{}-truncated-at-{at}", s.name);
            if !feed(s.bytes[..at].to_vec(), origin) {
                break 'truncations;
            }
        }
    }
    let mut index = 0u64;
    while done.load(Ordering::Relaxed) < cfg.inputs {
        let mut rng = Rng::for_input(cfg.seed, index);
        let input = generate(&mut rng, &seeds);
        feed(input, format!("seed-{:x}-input-{index}", cfg.seed));
        index += 1;
    }
    let elapsed = started.elapsed();
    stats.print(elapsed, &seeds_summary(&seeds));
    stats
        .save_slowest()
        .map_err(|e| format!("cannot save the slowest input: {e}"))?;
    Ok(stats.findings == 0)
}

/// Runs one saved input a few times: its outcome, and its fastest,
/// median and slowest time.
fn replay(file: &str) -> Result<bool, String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let mut times = Vec::new();
    let mut outcome = None;
    for _ in 0..20 {
        let started = Instant::now();
        let o = catch_unwind(AssertUnwindSafe(|| exercise(&bytes)));
        times.push(started.elapsed());
        outcome = Some(o.map_err(|_| "panicked"));
    }
    times.sort();
    println!(
        "fuzz: {file}: {} bytes, {outcome:?}, fastest {:?}, median {:?}, slowest {:?}",
        bytes.len(),
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    Ok(matches!(outcome, Some(Ok(_))))
}

fn seeds_summary(seeds: &[Seed]) -> String {
    let examples = seeds
        .iter()
        .filter(|s| s.name.starts_with("examples/"))
        .count();
    let corpus = seeds
        .iter()
        .filter(|s| s.name.starts_with("corpus/"))
        .count();
    format!(
        "{examples} example files, {} fixtures, {corpus} corpus files",
        seeds.len() - examples - corpus
    )
}

/// Runs one input under `catch_unwind`, timed, and records what it did.
fn run_one(
    current: &Mutex<Current>,
    bytes: Vec<u8>,
    origin: String,
    stats: &mut Stats,
    cfg: &Config,
) {
    {
        let mut c = current.lock().unwrap_or_else(|p| p.into_inner());
        c.bytes.clone_from(&bytes);
        c.origin.clone_from(&origin);
        c.started = Instant::now();
    }
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&bytes)));
    let took = started.elapsed();
    match outcome {
        Ok(o) => stats.count(o),
        Err(_) => {
            let message = report::last_panic();
            stats.found(Finding::Panic(message), &bytes, &origin);
        }
    }
    if took > cfg.slow {
        stats.found(Finding::Slow(took), &bytes, &origin);
    }
    stats.time(took, &bytes, &origin);
}

/// Ends the run, saving the input, when one input runs longer than `hang`.
fn watchdog(current: Arc<Mutex<Current>>, hang: Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(500));
            let c = current.lock().unwrap_or_else(|p| p.into_inner());
            if c.started.elapsed() > hang {
                let name = report::file_name("hang", &c.origin, &c.bytes);
                let path = corpus_dir().join(&name);
                let saved = std::fs::write(&path, &c.bytes);
                eprintln!(
                    "fuzz: HANG: an input of {} bytes ran for {:?} (origin {}); saved to {} ({saved:?})",
                    c.bytes.len(),
                    c.started.elapsed(),
                    c.origin,
                    path.display()
                );
                std::process::exit(2);
            }
        }
    });
}
