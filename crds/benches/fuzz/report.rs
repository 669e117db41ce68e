//! What the fuzzing campaign counts and prints, and where it writes what it
//! finds: panics and slow inputs into the corpus (kept as regression
//! inputs), the slowest input next to the build.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use crate::fuzzing::entry::Outcome;
use crate::fuzzing::seeds::corpus_dir;

/// Something wrong with one input.
pub enum Finding {
    Panic(String),
    Slow(Duration),
}

pub struct Stats {
    /// Panics and slow inputs written to the corpus.
    pub findings: u64,
    valid: u64,
    invalid: u64,
    refused: BTreeMap<&'static str, u64>,
    micros: Vec<u32>,
    slowest: Option<(Duration, Vec<u8>, String)>,
    panics: u64,
    slow: u64,
}

impl Stats {
    pub fn new(planned: u64) -> Stats {
        Stats {
            findings: 0,
            valid: 0,
            invalid: 0,
            refused: BTreeMap::new(),
            micros: Vec::with_capacity(usize::try_from(planned).unwrap_or(0).min(50_000_000)),
            slowest: None,
            panics: 0,
            slow: 0,
        }
    }

    pub fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Valid => self.valid += 1,
            Outcome::Invalid => self.invalid += 1,
            Outcome::Refused(reason) => *self.refused.entry(reason).or_default() += 1,
        }
    }

    pub fn time(&mut self, took: Duration, bytes: &[u8], origin: &str) {
        self.micros
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        if self.slowest.as_ref().is_none_or(|(t, _, _)| took > *t) {
            self.slowest = Some((took, bytes.to_vec(), origin.to_string()));
        }
    }

    pub fn slowest_time(&self) -> Duration {
        self.slowest.as_ref().map(|s| s.0).unwrap_or_default()
    }

    /// Writes the input to the corpus and counts it.
    pub fn found(&mut self, finding: Finding, bytes: &[u8], origin: &str) {
        self.findings += 1;
        let (kind, what) = match &finding {
            Finding::Panic(message) => {
                self.panics += 1;
                ("panic", format!("panicked: {message}"))
            }
            Finding::Slow(took) => {
                self.slow += 1;
                ("slow", format!("took {took:?}"))
            }
        };
        let path = corpus_dir().join(file_name(kind, origin, bytes));
        let saved = std::fs::write(&path, bytes)
            .map(|_| path.display().to_string())
            .unwrap_or_else(|e| format!("NOT SAVED to {}: {e}", path.display()));
        println!(
            "fuzz: FOUND: input {origin} ({} bytes) {what}; saved to {saved}",
            bytes.len()
        );
    }

    pub fn print(&self, elapsed: Duration, seeds: &str) {
        let total = self.micros.len() as u64;
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
            sorted.get(i).copied().unwrap_or(0)
        };
        let refused: u64 = self.refused.values().sum();
        println!("fuzz: ---------------------------------------------");
        println!("fuzz: seeds        {seeds}");
        println!(
            "fuzz: inputs       {total} in {:.1} s: {:.0} inputs/s",
            elapsed.as_secs_f64(),
            total as f64 / elapsed.as_secs_f64()
        );
        println!(
            "fuzz: per input    p50 {} us, p99 {} us, p99.99 {} us",
            at(0.5),
            at(0.99),
            at(0.9999)
        );
        if let Some((took, bytes, origin)) = &self.slowest {
            println!(
                "fuzz: slowest      {took:?}, {} bytes ({origin})",
                bytes.len()
            );
        }
        println!(
            "fuzz: outcomes     {refused} refused by the loader, {} loaded: {} valid, {} with violations",
            self.valid + self.invalid,
            self.valid,
            self.invalid
        );
        let reasons: Vec<String> = self
            .refused
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        println!("fuzz: refusals     {}", reasons.join(", "));
        println!("fuzz: peak memory  {}", peak_rss());
        println!(
            "fuzz: findings     {} panics, {} slow inputs",
            self.panics, self.slow
        );
    }

    /// Saves the slowest input next to the build, and says where.
    pub fn save_slowest(&self) -> std::io::Result<()> {
        let Some((_, bytes, _)) = &self.slowest else {
            return Ok(());
        };
        let dir = target_dir()?.join("fuzz");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("slowest-input.yaml");
        std::fs::write(&path, bytes)?;
        println!("fuzz: slowest input saved to {}", path.display());
        Ok(())
    }
}

/// `<target>` from `<target>/release/deps/fuzz-<hash>`.
fn target_dir() -> std::io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.ancestors()
        .nth(3)
        .map(PathBuf::from)
        .ok_or_else(|| std::io::Error::other("the bench binary is not under a target directory"))
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string())
}

/// A short, stable digest of an input (FNV-1a), so one input gets one name.
pub fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// `<kind>-<digest>-<origin>.yaml`, the origin cut to letters, digits and '-'.
pub fn file_name(kind: &str, origin: &str, bytes: &[u8]) -> String {
    let origin: String = origin
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(80)
        .collect();
    format!("{kind}-{}-{origin}.yaml", digest(bytes))
}

static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Keeps the message and place of each panic instead of printing it, so a
/// panicking input is reported once, with its file.
pub fn capture_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()) = format!("{message}{at}");
    }));
}

pub fn last_panic() -> String {
    std::mem::take(&mut *LAST_PANIC.lock().unwrap_or_else(|p| p.into_inner()))
}
