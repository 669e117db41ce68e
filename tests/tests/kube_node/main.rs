//! End-to-end: turnout as a fleet runs it. A one-node Kubernetes 1.20
//! (scripts/kube-up.sh and scripts/kube-node-up.sh: kube-apiserver, a
//! kubelet with dockershim on the local Docker engine, kube-scheduler and
//! the workload controllers) runs the operator image as the pod of
//! manifests/components/daemonset, installed with `kubectl apply -k`.
//!
//! - manifests: what the DaemonSet component renders, checked without a
//!   cluster (it is the Deployment's pod but for the node's selector);
//! - daemonset: the pod converges, switches, survives its deletion
//!   mid-switch and a rollout restart, passes its probes, and never touches
//!   the kubelet's own containers.
//!
//! Host ports 28600-28799; the cluster's own ports are picked free by the
//! scripts. Names start with `e2e-node-`.

mod daemonset;
mod kubelet;
mod manifests;
mod node;
mod observe;
mod story;
