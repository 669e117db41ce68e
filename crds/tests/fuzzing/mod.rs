//! The fuzzer's parts, shared by the campaign (`benches/fuzz.rs`, `make
//! fuzz`), the corpus regression test and the property test: a PRNG, the
//! seeds, the mutations and the entry points they drive.

#![allow(dead_code)]

pub mod dictionary;
pub mod entry;
pub mod mutate;
pub mod rng;
pub mod seeds;
