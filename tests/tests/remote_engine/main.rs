//! End-to-end: turnout reads a Docker engine on "another host" over TLS
//! and over SSH. The other host is a second engine on this machine
//! (scripts/second-engine.sh, its own socket and bridge), listening also on
//! a TLS port, and reached through an sshd of the test's own (its own
//! config, host key and authorized key, on a loopback port) as a dedicated
//! user whose `docker` talks to that engine.
//!
//! - tls.rs: `import` and `plan` see that engine's containers with the
//!   Docker CLI's variables and with `--engine-certs`; a wrong CA, a key
//!   others can read and plain TCP are refused, and `apply` refuses it.
//! - ssh.rs: the same over SSH; a refused key, an unknown host key and a
//!   closed port fail fast, naming the engine; no ssh is left running.
//! - stream.rs: the runtime streams 10 MB into and out of an exec over
//!   each transport, byte for byte, and a killed ssh ends a call cleanly.
//! - sync.rs: `turnout sync --source-engine ssh://...` copies a MariaDB
//!   database from that engine into this one, verified; killing the ssh
//!   mid-stream fails the copy cleanly with the target untouched.
//!
//! Host ports 27500-27799. The tests hold one lock, so they never share
//! the second engine, whatever runs them.

mod certs;
mod ssh;
mod sshd;
mod stream;
mod support;
mod sync;
mod tls;
