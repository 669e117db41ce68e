//! Benchmark 4 of docs/benchmarks.md: the pure core (validate + build + diff)
//! on a generated plan of 500 containers. No Docker, no I/O.
//!
//! A plain `harness = false` loop timed with `Instant` (no criterion: it would
//! add a dozen crates to the build for one number). Each sample is one call;
//! the report gives median, p99 and max over `BENCH_CORE_ITERS` samples
//! (default 300) after a warm-up.
//!
//! Run: `cargo bench -p turnout --bench core` (or `make bench`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use turnout::core::model::{LABEL_MANAGED_BY, LABEL_PLAN, LABEL_ROLE, LABEL_SPEC_HASH, MANAGED_BY};
use turnout::core::{ObservedContainer, ObservedPort, RunState, build_desired, diff};
use turnout::host::ProcHost;
use turnout::reconcile::{Reconciler, Target};
use turnout::runtime::docker::DockerRuntime;
use turnout::target::target_of;
use turnout_crds::load::Documents;
use turnout_crds::port::Protocol;
use turnout_crds::validate::{validate_plan, validate_selection};

const PLAN: &str = "bench-core";
const INFRASTRUCTURE: usize = 20;
const VERSIONS: usize = 10;
/// Per version: 40 services and 8 shared services.
const SERVICES: usize = 40;
const SHARED: usize = 8;
const TARGET: Duration = Duration::from_millis(10);

type Plain = Reconciler<DockerRuntime, ProcHost>;

/// A valid plan of INFRASTRUCTURE + VERSIONS * (SERVICES + SHARED) = 500
/// containers, each with a published port, env, a readiness probe (and a
/// volume for the infrastructure and shared services), selecting `active`.
fn generated_plan(active: &str) -> String {
    let mut y = String::new();
    let _ = write!(
        y,
        "apiVersion: turnout.dev/v1alpha1\nkind: PortPlan\nmetadata: {{name: {PLAN}}}\nspec:\n  environment: {{name: bench, stage: dev}}\n  infrastructure:\n"
    );
    for i in 0..INFRASTRUCTURE {
        let _ = write!(
            y,
            "    - name: {PLAN}-db-{i}\n      image: turnout/busybox:demo\n      command: [httpd, -f, -p, \"8080\", -h, /www]\n      env:\n        - {{name: ROLE, value: db}}\n        - {{name: INDEX, value: \"{i}\"}}\n      ports: [{{host: {}, container: 8080}}]\n      volumes: [{{name: {PLAN}-db-{i}-data, path: /data}}]\n      readiness: {{tcp: {{port: 8080}}}}\n      stopTimeoutSeconds: 10\n",
            3000 + i
        );
    }
    y.push_str("  versions:\n");
    for v in 0..VERSIONS {
        let base = 10_000 + 1000 * v;
        let _ = write!(
            y,
            "    - name: v{v}\n      ranges:\n        - {{name: services, from: {base}, to: {}}}\n        - {{name: shared, from: {}, to: {}}}\n      containers:\n",
            base + 499,
            base + 500,
            base + 999
        );
        for s in 0..SERVICES + SHARED {
            let (kind, port, range) = if s < SERVICES {
                ("service", base + s, "services")
            } else {
                ("shared", base + 500 + s - SERVICES, "shared")
            };
            let _ = write!(
                y,
                "        - name: {PLAN}-v{v}-{kind}-{s}\n          image: turnout/busybox:demo\n          command: [httpd, -f, -p, \"8080\", -h, /www]\n          env:\n            - {{name: VERSION, value: v{v}}}\n            - {{name: INDEX, value: \"{s}\"}}\n          ports: [{{host: {port}, container: 8080, range: {range}}}]\n"
            );
            if kind == "shared" {
                let _ = writeln!(
                    y,
                    "          volumes: [{{name: {PLAN}-v{v}-{s}-data, path: /data}}]"
                );
            }
            y.push_str(
                "          readiness: {http: {port: 8080, path: /}, timeoutSeconds: 20}\n          stopTimeoutSeconds: 3\n",
            );
        }
    }
    let _ = write!(
        y,
        "---\napiVersion: turnout.dev/v1alpha1\nkind: VersionSelection\nmetadata: {{name: host}}\nspec: {{planRef: {PLAN}, activeVersion: {active}}}\n"
    );
    y
}

fn target(yaml: &str) -> Target {
    let docs = Documents::parse(Path::new("bench.yaml"), yaml).expect("the generated plan parses");
    target_of(&docs, "bench.yaml").expect("one selection and its plan")
}

/// The host as the engine would list it: every container of the plan exists,
/// the infrastructure and version `running` run, every other version is
/// stopped; plus `foreign` containers that are not turnout's.
fn observed(t: &Target, running: &str, foreign: usize) -> Vec<ObservedContainer> {
    let mut out = Vec::new();
    for v in &t.plan.versions {
        let d = build_desired(&t.plan_name, &t.plan, &v.name).expect("version exists");
        for c in d.containers {
            if out.iter().any(|o: &ObservedContainer| o.name == c.name()) {
                continue; // infrastructure, already listed
            }
            let up = v.name == running || c.role == turnout::core::Role::Infrastructure;
            out.push(ObservedContainer {
                image_id: None,
                mounts: Vec::new(),
                id: format!("{:064x}", out.len()),
                name: c.name().to_string(),
                image: c.spec.image.clone(),
                labels: c.labels(),
                state: if up {
                    RunState::Running
                } else {
                    RunState::Stopped
                },
                ports: if up {
                    c.spec
                        .ports
                        .iter()
                        .map(|p| ObservedPort {
                            host_ip: Some("0.0.0.0".parse().expect("ip")),
                            host_port: p.host.get(),
                            container_port: p.container.get(),
                            protocol: Protocol::Tcp,
                        })
                        .collect()
                } else {
                    Vec::new()
                },
            });
        }
    }
    for i in 0..foreign {
        out.push(ObservedContainer {
            image_id: None,
            mounts: Vec::new(),
            id: format!("f{i:063x}"),
            name: format!("someone-else-{i}"),
            image: "nginx:latest".to_string(),
            labels: BTreeMap::from([("com.example".to_string(), "x".to_string())]),
            state: RunState::Running,
            ports: Vec::new(),
        });
    }
    // Sanity: the labels the diff relies on are the ones turnout writes.
    let first = out.first().expect("some containers");
    assert_eq!(first.labels[LABEL_MANAGED_BY], MANAGED_BY);
    assert_eq!(first.labels[LABEL_PLAN], PLAN);
    assert!(first.labels.contains_key(LABEL_ROLE) && first.labels.contains_key(LABEL_SPEC_HASH));
    out
}

struct Stats {
    median: Duration,
    p99: Duration,
    max: Duration,
    mean: Duration,
}

fn measure(iters: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..iters.div_ceil(10).max(3) {
        f();
    }
    let mut samples: Vec<Duration> = (0..iters)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed()
        })
        .collect();
    samples.sort();
    let pick =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    Stats {
        median: pick(0.5),
        p99: pick(0.99),
        max: samples[samples.len() - 1],
        mean: samples.iter().sum::<Duration>() / samples.len() as u32,
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn report(name: &str, s: &Stats) {
    println!(
        "{name:<44} median {:>11}  p99 {:>11}  max {:>11}  mean {:>11}",
        ms(s.median),
        ms(s.p99),
        ms(s.max),
        ms(s.mean)
    );
}

fn main() {
    // Only `cargo bench` passes `--bench`; under `cargo test --benches` a
    // few iterations check that the bench still runs.
    let quick = !std::env::args().any(|a| a == "--bench");
    let iters: usize = std::env::var("BENCH_CORE_ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 5 } else { 300 });

    let yaml_switch = generated_plan("v1");
    let yaml_converged = generated_plan("v0");
    let switch = target(&yaml_switch);
    let converged = target(&yaml_converged);
    let n_containers = switch.plan.infrastructure.len()
        + switch
            .plan
            .versions
            .iter()
            .map(|v| v.containers.len())
            .sum::<usize>();
    assert_eq!(n_containers, 500, "the generated plan has 500 containers");
    let violations = validate_plan(&switch.plan);
    assert!(
        violations.is_empty(),
        "the generated plan is valid: {violations:#?}"
    );
    // v0 runs; 20 foreign containers share the host.
    let host = observed(&switch, "v0", 20);
    let (_, actions) = Plain::plan(&switch, &host).expect("valid");
    let (_, none) = Plain::plan(&converged, &host).expect("valid");
    assert!(
        none.is_empty(),
        "the converged host needs no action: {none:#?}"
    );
    println!(
        "core bench: plan {PLAN}, {n_containers} containers ({INFRASTRUCTURE} infrastructure, {VERSIONS} versions x {}), YAML {} KiB, {} observed containers; switch v0 -> v1 = {} actions; {iters} samples each",
        SERVICES + SHARED,
        yaml_switch.len() / 1024,
        host.len(),
        actions.len()
    );

    let total_switch = measure(iters, || {
        black_box(Plain::plan(black_box(&switch), black_box(&host)).ok());
    });
    let total_converged = measure(iters, || {
        black_box(Plain::plan(black_box(&converged), black_box(&host)).ok());
    });
    let validate = measure(iters, || {
        black_box(validate_plan(black_box(&switch.plan)));
        black_box(validate_selection(
            &switch.plan_name,
            &switch.plan,
            &switch.selection,
        ));
    });
    let build = measure(iters, || {
        black_box(build_desired(
            &switch.plan_name,
            black_box(&switch.plan),
            "v1",
        ));
    });
    let desired = build_desired(&switch.plan_name, &switch.plan, "v1").expect("v1 exists");
    let diff_only = measure(iters, || {
        black_box(diff(black_box(&desired), black_box(&host)));
    });
    let parse = measure(iters.min(100), || {
        black_box(target(black_box(&yaml_switch)));
    });

    report("validate+build+diff, switch v0->v1 (total)", &total_switch);
    report("validate+build+diff, converged on v0", &total_converged);
    report("  validate_plan + validate_selection", &validate);
    report("  build_desired", &build);
    report("  diff (switch)", &diff_only);
    report("(not in target) YAML parse + target_of", &parse);
    let worst = total_switch.median.max(total_converged.median);
    println!(
        "RESULT core: validate+diff of 500 containers median {} (p99 {}) vs target {}: {}",
        ms(worst),
        ms(total_switch.p99.max(total_converged.p99)),
        ms(TARGET),
        if worst <= TARGET { "MET" } else { "MISSED" }
    );
}
