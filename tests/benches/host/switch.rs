//! Benchmark 1: a switch future -> dao, turnout against the original shell
//! script's way (docker CLI), alternating on the same containers and engine.
//!
//! Every measured run starts from the same host: all three versions'
//! containers exist, future and the infrastructure run, dao and blockchain
//! are stopped (turnout puts it back there between runs, unmeasured). Every
//! run ends with the infrastructure and dao running, checked after each run.
//!
//! - turnout (library): one `Reconciler::reconcile` with the Docker runtime,
//!   already connected. Includes list, validate, diff, preflight (image
//!   check, /proc scan), the parallel stops and starts, and the wait for
//!   dao's http readiness probes; `Applied.timings` splits it.
//! - turnout apply (CLI): the same through `turnout apply FILE`, a new process
//!   (start-up, engine connection, host lock) like the script's.
//! - script: `docker stop` once per container of the other versions (future
//!   and blockchain, one after the other, as the script did), then one
//!   `docker start` of dao's list. It does not wait for readiness;
//!   "script + ready" adds the time until dao's three ports answer HTTP
//!   (polled every 20 ms), the point turnout's total ends at.
//! - engine floor (not a contender, for the analysis): the same three stops
//!   and three starts sent straight to the engine through the runtime, no
//!   reconcile around them: stops in parallel then starts in parallel (what
//!   turnout does), and all six at once (what overlapping the phases would give).

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use tokio::runtime::Runtime;
use turnout::host::ProcHost;
use turnout::reconcile::{Outcome, Reconciler, Run, Target};
use turnout::runtime::ContainerRuntime;
use turnout::runtime::docker::DockerRuntime;
use turnout::secrets::SecretFiles;
use turnout::target::target_of;
use turnout_crds::load::Documents;
use turnout_e2e::{
    Cleanup, demo, demo_plan, docker, expected_running, remove_plan_containers, running,
    version_containers, version_ports,
};

use crate::support::{
    Counting, bench_dir, calls_between, http_ok, list, median, ms, show_calls, verdict, write_file,
};

pub type Bench = Reconciler<Counting<DockerRuntime>, ProcHost>;

const PLAN: &str = "bench-switch";
const BASE: u16 = 22000;

pub fn target(yaml: &str) -> Target {
    let docs = Documents::parse(Path::new("bench.yaml"), yaml).expect("bench plan parses");
    target_of(&docs, "bench.yaml").expect("one selection and its plan")
}

pub fn reconciler(rt: &Runtime, dir: &Path) -> Bench {
    let docker = rt
        .block_on(DockerRuntime::connect())
        .expect("Docker engine reachable");
    Reconciler::new(
        Arc::new(Counting::new(docker)),
        ProcHost,
        SecretFiles::new(dir.join("secrets")),
    )
}

/// One reconcile that must converge; panics with the outcome otherwise.
pub fn converge(rt: &Runtime, r: &Bench, yaml: &str) -> Outcome {
    let o = rt.block_on(r.reconcile(&target(yaml), &Run::default()));
    match &o {
        Outcome::Applied(a) if a.converged() => o,
        other => panic!("expected a converged host, got {other:#?}"),
    }
}

fn check_on(plan: &str, version: &str, what: &str) {
    assert_eq!(
        running(plan),
        expected_running(plan, version),
        "after {what}: {version} and the infrastructure run"
    );
}

struct TurnoutRun {
    total: f64,
    stop: f64,
    start: f64,
    ready: f64,
}

fn turnout_library(rt: &Runtime, r: &Bench, dao: &str) -> (TurnoutRun, String) {
    let before = r.runtime.snapshot();
    let t0 = Instant::now();
    let o = rt.block_on(r.reconcile(&target(dao), &Run::default()));
    let total = ms(t0.elapsed());
    let (_, _, by) = calls_between(&before, &r.runtime.snapshot());
    let Outcome::Applied(a) = &o else {
        panic!("switch did not apply: {o:#?}")
    };
    assert!(a.converged(), "switch converged: {a:#?}");
    let t = &a.timings;
    let f = |x: Option<u64>| x.unwrap_or(0) as f64;
    (
        TurnoutRun {
            total,
            stop: f(t.stop_ms),
            start: f(t.start_ms),
            ready: f(t.ready_ms),
        },
        show_calls(&by),
    )
}

fn turnout_cli(bin: &Path, file: &Path, state: &Path) -> f64 {
    let t0 = Instant::now();
    let status = Command::new(bin)
        .arg("apply")
        .arg(file)
        .arg("--state-dir")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("turnout apply runs");
    let took = ms(t0.elapsed());
    assert!(status.success(), "turnout apply converged");
    took
}

struct ScriptRun {
    stop: f64,
    start: f64,
    until_ready: f64,
}

/// The engine calls of the switch alone: (stops then starts, all at once), in ms.
fn engine_floor(rt: &Runtime, r: &Bench, overlap: bool) -> f64 {
    let engine = r.runtime.as_ref();
    let old = version_containers(PLAN, "future");
    let new = version_containers(PLAN, "dao");
    let t0 = Instant::now();
    rt.block_on(async {
        let stops = join_all(old.iter().map(|c| engine.stop(c, 3)));
        let starts = join_all(new.iter().map(|c| engine.start(c)));
        let results = if overlap {
            let (a, b) = futures::join!(stops, starts);
            a.into_iter().chain(b).collect::<Vec<_>>()
        } else {
            let a = stops.await;
            a.into_iter().chain(starts.await).collect()
        };
        for res in results {
            res.expect("engine call succeeds");
        }
    });
    ms(t0.elapsed())
}

fn script(to: &str) -> ScriptRun {
    let t0 = Instant::now();
    for other in ["future", "blockchain"] {
        for c in version_containers(PLAN, other) {
            docker(&["stop", &c]);
        }
    }
    let stopped = ms(t0.elapsed());
    let mut start = vec!["start".to_string()];
    start.extend(version_containers(PLAN, to));
    let args: Vec<&str> = start.iter().map(String::as_str).collect();
    docker(&args);
    let started = ms(t0.elapsed());
    let ports = version_ports(BASE, to);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ports.iter().all(|p| http_ok(*p)) {
        assert!(Instant::now() < deadline, "{to} answers within 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    ScriptRun {
        stop: stopped,
        start: started - stopped,
        until_ready: ms(t0.elapsed()),
    }
}

/// The demo plan switched with `strategy`, selecting `active`.
fn with_strategy(strategy: &str, active: &str) -> String {
    demo(PLAN, BASE)
        .set("switchStrategy", serde_json::json!(strategy))
        .select(active)
        .yaml()
}

/// Names of the plan's containers that run (not paused).
fn running_only(plan: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "--format",
        "{{.Names}}",
        "--filter",
        "status=running",
        "--filter",
        &format!("label=dev.turnout.plan={plan}"),
    ]);
    let mut names: Vec<String> = out.lines().map(str::to_string).collect();
    names.sort();
    names
}

/// The engine calls of a warm-standby switch alone: 3 pauses, then 3 unpauses.
fn engine_floor_pause(rt: &Runtime, r: &Bench) -> f64 {
    let engine = r.runtime.as_ref();
    let old = version_containers(PLAN, "future");
    let new = version_containers(PLAN, "dao");
    let t0 = Instant::now();
    rt.block_on(async {
        for res in join_all(old.iter().map(|c| engine.pause(c))).await {
            res.expect("pause succeeds");
        }
        for res in join_all(new.iter().map(|c| engine.unpause(c))).await {
            res.expect("unpause succeeds");
        }
    });
    ms(t0.elapsed())
}

/// What each contender measured, in ms.
#[derive(Default)]
struct Runs {
    lib: Vec<TurnoutRun>,
    cli: Vec<f64>,
    sh: Vec<ScriptRun>,
    overlap: Vec<TurnoutRun>,
    pause: Vec<TurnoutRun>,
    floor: Vec<f64>,
    floor_overlap: Vec<f64>,
    floor_pause: Vec<f64>,
    calls: String,
    pause_calls: String,
}

pub fn run(rt: &Runtime, bin: &Path, reps: usize) {
    println!(
        "\n== 1. switch future -> dao: turnout (StopFirst, Overlap, Pause) vs the docker CLI script ({reps} runs each, alternating)"
    );
    remove_plan_containers(PLAN);
    let _cleanup = Cleanup(PLAN.to_string());
    let dir = bench_dir(PLAN);
    let (future, dao) = (
        demo_plan(PLAN, BASE, "future"),
        demo_plan(PLAN, BASE, "dao"),
    );
    let dao_file = dir.join("dao.yaml");
    write_file(&dao_file, &dao);
    let r = reconciler(rt, &dir);
    // Every version's containers exist, as on a host that has switched before.
    for v in ["future", "dao", "blockchain", "future"] {
        converge(rt, &r, &demo_plan(PLAN, BASE, v));
    }
    let reset_to = |yaml: &str| {
        converge(rt, &r, yaml);
        assert_eq!(
            running_only(PLAN),
            expected_running(PLAN, "future"),
            "reset"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let reset = || reset_to(&future);
    let (future_overlap, dao_overlap) = (
        with_strategy("Overlap", "future"),
        with_strategy("Overlap", "dao"),
    );
    let (future_pause, dao_pause) = (
        with_strategy("Pause", "future"),
        with_strategy("Pause", "dao"),
    );
    // One unmeasured run of each, then alternate which goes first.
    reset();
    let _ = turnout_library(rt, &r, &dao);
    reset();
    let _ = script("dao");
    reset_to(&future_pause);
    let _ = turnout_library(rt, &r, &dao_pause);
    let mut m = Runs::default();
    for i in 0..reps {
        let order: [u8; 5] = if i % 2 == 0 {
            [0, 1, 2, 3, 4]
        } else {
            [4, 3, 2, 1, 0]
        };
        for which in order {
            measure(
                rt,
                &r,
                bin,
                &dir,
                which,
                &mut m,
                &reset,
                &reset_to,
                [
                    &dao,
                    &dao_file.display().to_string(),
                    &future_overlap,
                    &dao_overlap,
                    &future_pause,
                    &dao_pause,
                ],
            );
        }
        for overlap in [false, true] {
            reset();
            let t = engine_floor(rt, &r, overlap);
            if overlap {
                &mut m.floor_overlap
            } else {
                &mut m.floor
            }
            .push(t);
            check_on(PLAN, "dao", "the engine calls");
        }
        reset_to(&future_pause);
        m.floor_pause.push(engine_floor_pause(rt, &r));
    }
    report(&m);
    let _ = std::fs::remove_dir_all(&dir);
}

/// One measured run of contender `which`, from its reset.
#[allow(clippy::too_many_arguments)]
fn measure(
    rt: &Runtime,
    r: &Bench,
    bin: &Path,
    dir: &Path,
    which: u8,
    m: &mut Runs,
    reset: &dyn Fn(),
    reset_to: &dyn Fn(&str),
    [
        dao,
        dao_file,
        future_overlap,
        dao_overlap,
        future_pause,
        dao_pause,
    ]: [&str; 6],
) {
    match which {
        0 => {
            reset();
            let (t, c) = turnout_library(rt, r, dao);
            m.lib.push(t);
            m.calls = c;
            check_on(PLAN, "dao", "turnout (library)");
        }
        1 => {
            reset();
            m.cli
                .push(turnout_cli(bin, Path::new(dao_file), &dir.join("state")));
            check_on(PLAN, "dao", "turnout apply");
        }
        2 => {
            reset();
            m.sh.push(script("dao"));
            check_on(PLAN, "dao", "the script");
        }
        3 => {
            reset_to(future_overlap);
            m.overlap.push(turnout_library(rt, r, dao_overlap).0);
            check_on(PLAN, "dao", "turnout Overlap");
        }
        _ => {
            reset_to(future_pause);
            let (t, c) = turnout_library(rt, r, dao_pause);
            m.pause.push(t);
            m.pause_calls = c;
            assert_eq!(
                running_only(PLAN),
                expected_running(PLAN, "dao"),
                "after Pause"
            );
        }
    }
}

fn report(m: &Runs) {
    let total = |v: &[TurnoutRun]| v.iter().map(|t| t.total).collect::<Vec<f64>>();
    let lib_total = total(&m.lib);
    let lib_no_ready: Vec<f64> = m.lib.iter().map(|t| t.total - t.ready).collect();
    let sh_total: Vec<f64> = m.sh.iter().map(|s| s.stop + s.start).collect();
    let sh_ready: Vec<f64> = m.sh.iter().map(|s| s.until_ready).collect();
    let base = median(&sh_total);
    let row = |name: &str, v: &[f64]| {
        println!(
            "  {name:<44} median {:>6.0} ms  ratio to script {:>5.2}  runs {}",
            median(v),
            median(v) / base,
            list(v)
        );
    };
    row("turnout StopFirst (library), total", &lib_total);
    row("turnout StopFirst, without ready wait", &lib_no_ready);
    row("turnout apply (CLI process), total", &m.cli);
    row("turnout Overlap (library), total", &total(&m.overlap));
    row("turnout Pause (library), total", &total(&m.pause));
    row("script: docker stop x6 + docker start", &sh_total);
    row("script + until dao answers HTTP", &sh_ready);
    row("engine floor: 3 stops, then 3 starts", &m.floor);
    row(
        "engine floor: 3 stops and 3 starts at once",
        &m.floor_overlap,
    );
    row("engine floor: 3 pauses, then 3 unpauses", &m.floor_pause);
    let phases = |v: &[TurnoutRun]| {
        let col = |f: &dyn Fn(&TurnoutRun) -> f64| median(&v.iter().map(f).collect::<Vec<f64>>());
        format!(
            "stop {:.0} ms, start {:.0} ms, ready wait {:.0} ms",
            col(&|t| t.stop),
            col(&|t| t.start),
            col(&|t| t.ready)
        )
    };
    println!(
        "  phases (median): StopFirst {}; Overlap {}; Pause {}",
        phases(&m.lib),
        phases(&m.overlap),
        phases(&m.pause)
    );
    println!(
        "  engine calls per switch: StopFirst {}; Pause {}",
        m.calls, m.pause_calls
    );
    println!(
        "  script phases (median): 6 x docker stop {:.0} ms, docker start of 3 {:.0} ms",
        median(&m.sh.iter().map(|s| s.stop).collect::<Vec<_>>()),
        median(&m.sh.iter().map(|s| s.start).collect::<Vec<_>>())
    );
    let ratio = median(&lib_total) / base;
    let overlap = median(&total(&m.overlap)) / base;
    let pause = median(&total(&m.pause)) / base;
    println!(
        "RESULT switch: StopFirst {ratio:.2}x, Overlap {overlap:.2}x, Pause {pause:.2}x the script ({base:.0} ms; like-for-like with script+ready: StopFirst {:.2}x; CLI {:.2}x). Targets: Overlap <= 0.50x: {}; Pause <= 0.10x: {}",
        median(&lib_total) / median(&sh_ready),
        median(&m.cli) / base,
        verdict(overlap <= 0.5),
        verdict(pause <= 0.1)
    );
}
