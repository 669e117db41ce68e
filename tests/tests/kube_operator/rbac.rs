//! The operator's ServiceAccount, asked of the API server after `kubectl
//! apply -f manifests/` and one namespace served with the serve-namespace
//! component: Secrets `get` only and only where served, never listed or
//! watched; the Lease only in its own namespace; the turnout kinds
//! everywhere.

use turnout_e2e::*;

use crate::cluster::Cluster;

const SERVED: &str = "e2e-h3-served";
const UNSERVED: &str = "e2e-h3-unserved";

#[test]
fn the_operator_reads_secrets_only_where_served_and_leases_only_at_home() {
    let dir = temp_dir("e2e-h3-kube-rbac");
    let cluster = Cluster::up(dir.join("kube"));
    cluster.install_manifests();
    cluster.ok(&["create", "namespace", SERVED]);
    cluster.ok(&["create", "namespace", UNSERVED]);
    cluster.serve_namespace(SERVED);
    let can =
        |verb: &str, resource: &str, ns: Option<&str>| cluster.operator_can(verb, resource, ns);

    // Secrets: get where served (default by the manifests, SERVED by the
    // component), nothing anywhere else.
    for ns in ["default", SERVED] {
        assert_eq!(
            can("get", "secrets", Some(ns)),
            "yes",
            "get secrets in {ns}"
        );
        for verb in ["list", "watch", "create", "update", "patch", "delete"] {
            assert_eq!(
                can(verb, "secrets", Some(ns)),
                "no",
                "{verb} secrets in {ns}"
            );
        }
    }
    for ns in [UNSERVED, "kube-system", "turnout-system"] {
        assert_eq!(can("get", "secrets", Some(ns)), "no", "get secrets in {ns}");
    }
    for verb in ["get", "list", "watch"] {
        assert_eq!(
            can(verb, "secrets", None),
            "no",
            "{verb} secrets cluster-wide"
        );
    }

    // The Lease: in turnout-system ($POD_NAMESPACE of the Deployment) only.
    let leases = "leases.coordination.k8s.io";
    for verb in ["get", "create", "update"] {
        assert_eq!(
            can(verb, leases, Some("turnout-system")),
            "yes",
            "{verb} leases"
        );
        for ns in ["default", SERVED] {
            assert_eq!(can(verb, leases, Some(ns)), "no", "{verb} leases in {ns}");
        }
        assert_eq!(can(verb, leases, None), "no", "{verb} leases cluster-wide");
    }
    assert_eq!(can("delete", leases, Some("turnout-system")), "no");

    // What stays cluster-wide: the turnout kinds, status by patch, Events.
    for (verb, resource) in [
        ("watch", "versionselections.turnout.dev"),
        ("patch", "versionselections.turnout.dev"),
        ("watch", "portplans.turnout.dev"),
        ("create", "datasyncs.turnout.dev"),
        ("watch", "datasyncs.turnout.dev"),
        ("create", "events.events.k8s.io"),
    ] {
        assert_eq!(
            can(verb, resource, Some(UNSERVED)),
            "yes",
            "{verb} {resource}"
        );
        assert_eq!(
            can(verb, resource, None),
            "yes",
            "{verb} {resource} cluster-wide"
        );
    }
    for (verb, resource) in [
        ("delete", "versionselections.turnout.dev"),
        ("update", "versionselections.turnout.dev"),
        ("patch", "portplans.turnout.dev"),
        ("delete", "datasyncs.turnout.dev"),
        ("list", "pods"),
    ] {
        assert_eq!(can(verb, resource, None), "no", "{verb} {resource}");
    }
}
