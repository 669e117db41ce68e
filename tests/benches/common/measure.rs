//! What the data benchmarks share: knobs from the environment, medians,
//! and a command's time and peak resident memory.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `name` from the environment as a number, else `default`.
pub fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// The median of `v` (not empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs a command, sampling its peak resident memory (kB) from /proc.
pub fn run_measured(cmd: &mut Command) -> (Duration, u64, std::process::Output) {
    let t0 = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        let path = format!("/proc/{pid}/status");
        while let Ok(s) = std::fs::read_to_string(&path) {
            if s.contains("State:\tZ") {
                break;
            }
            for line in s.lines() {
                if let Some(v) = line.strip_prefix("VmHWM:") {
                    peak = peak.max(v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0));
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        peak
    });
    let out = child.wait_with_output().expect("wait");
    let took = t0.elapsed();
    (took, sampler.join().unwrap_or(0), out)
}
