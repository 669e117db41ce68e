//! The GitOps layout: every overlay renders (kubectl kustomize) into
//! documents turnout accepts, with its environment and version; the Argo CD
//! health check (Lua) gives the right verdict for sample statuses.

use std::path::{Path, PathBuf};
use std::process::Command;

use turnout::commands::validate::validate_documents;
use turnout_crds::load::Documents;
use turnout_crds::plan::Stage;

fn gitops() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gitops")
}

#[test]
fn every_overlay_renders_into_valid_documents() {
    for (overlay, stage, version) in [
        ("local", Stage::Dev, "blockchain"),
        ("test-cloud", Stage::Test, "dao"),
        ("production", Stage::Prod, "future"),
    ] {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(gitops().join("overlays").join(overlay))
            .output()
            .expect("kubectl is installed (it renders the overlays)");
        assert!(
            out.status.success(),
            "{overlay}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let docs = Documents::parse(Path::new(overlay), &text).unwrap_or_else(|e| panic!("{e}"));
        for report in validate_documents(&docs) {
            assert!(report.violations.is_empty(), "{overlay}: {report:#?}");
        }
        let plan = &docs.plans[0].value;
        assert_eq!(plan.spec.environment.as_ref().map(|e| e.stage), Some(stage));
        assert_eq!(
            plan.metadata.namespace.as_deref(),
            Some(format!("turnout-{overlay}").as_str())
        );
        assert_eq!(docs.selections[0].value.spec.active_version, version);
    }
}

fn lua_case(status: &str, generation: i64) -> String {
    format!(
        "obj = {{ metadata = {{ generation = {generation} }}, status = {status} }}\nlocal hs = dofile(HEALTH)\nprint(hs.status)\n"
    )
}

#[test]
fn the_argo_cd_health_check_reads_kstatus() {
    let health = gitops().join("argocd/health.lua");
    let cases = [
        ("nil", 1, "Progressing"),
        (
            "{ observedGeneration = 1, conditions = { { type = 'Ready', status = 'True', reason = 'Converged', message = 'ok' } } }",
            1,
            "Healthy",
        ),
        (
            "{ observedGeneration = 1, conditions = { { type = 'Ready', status = 'True', reason = 'Converged', message = 'ok' } } }",
            2,
            "Progressing",
        ),
        (
            "{ observedGeneration = 2, conditions = { { type = 'Ready', status = 'False', reason = 'PortConflict', message = 'held' }, { type = 'Degraded', status = 'True', reason = 'PortConflict', message = 'port 9200 held by x' } } }",
            2,
            "Degraded",
        ),
        (
            "{ observedGeneration = 2, conditions = { { type = 'Ready', status = 'False', reason = 'Unhealthy', message = 'waiting' }, { type = 'Progressing', status = 'True', reason = 'Unhealthy', message = 'waiting' } } }",
            2,
            "Progressing",
        ),
    ];
    for (status, generation, want) in cases {
        let script = format!(
            "HEALTH = {:?}\n{}",
            health.display().to_string(),
            lua_case(status, generation)
        );
        let out = Command::new("lua5.4")
            .args(["-e", &script])
            .output()
            .expect("lua5.4 is installed (make setup installs it)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            want,
            "status {status} at generation {generation}"
        );
    }
}

#[test]
fn the_argocd_configmap_patch_carries_the_same_lua() {
    let lua = std::fs::read_to_string(gitops().join("argocd/health.lua")).unwrap();
    let cm: serde_json::Value = serde_saphyr::from_str(
        &std::fs::read_to_string(gitops().join("argocd/argocd-cm-patch.yaml")).unwrap(),
    )
    .unwrap();
    let embedded = cm["data"]["resource.customizations.health.turnout.dev_VersionSelection"]
        .as_str()
        .unwrap();
    assert_eq!(embedded.trim_end(), lua.trim_end());
}
