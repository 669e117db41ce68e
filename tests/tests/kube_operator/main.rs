//! End-to-end: `turnout run` against a real Kubernetes API server (1.20,
//! built from Debian's source by scripts/kube-build.sh, started on loopback
//! by scripts/kube-up.sh) and the real Docker engine, under the RBAC that
//! `kubectl apply -f manifests/` installs.
//!
//! - rbac: what the operator's ServiceAccount may do, asked of the server;
//! - converge: kubectl apply drives the host (switch, invalid plan, a
//!   `from.file` secret refused);
//! - demo: the Kubernetes demo on real databases (DataSyncs, a kill
//!   mid-switch, Lease hand-over, onDelete); example: that demo is the
//!   standalone one with its passwords in a Secret (no cluster needed);
//! - image: the operator image run the way the Deployment runs it;
//! - events: engine events drive the operator (drift, crashes, crash loops);
//! - promote: a DataSync from another environment, its engine reached over
//!   TLS with certificates from a Secret (the second engine and certificates
//!   of the remote-engine tests, under their lock);
//! - rollback: a switch whose new version exits or never gets ready goes
//!   back to the previous one, next to a real MariaDB, and is held there.
//!
//! Host ports 28500-28999; the API server's own ports are fixed (cluster.rs),
//! so these tests run one at a time (.config/nextest.toml).

// The remote-engine tests' second engine and certificates, shared.
#[allow(dead_code)]
#[path = "../remote_engine/certs.rs"]
mod certs;
mod cluster;
mod converge;
mod demo;
mod events;
mod example;
mod image;
mod promote;
mod rbac;
mod rollback;
#[allow(dead_code)]
#[path = "../remote_engine/support.rs"]
mod support;
