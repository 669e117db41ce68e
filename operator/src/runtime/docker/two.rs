//! Two engines as one data path: a copy from another environment's host
//! runs each command on the engine of its side ([`Side`]) and streams the
//! source's dump through turnout into the target's load. Everything else
//! about a copy (staging, verification, the swap, records) is unchanged.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::DockerRuntime;
use super::data::stream_between;
use crate::runtime::RuntimeError;
use crate::runtime::stream::{Captured, DataExec, ExecSpec, Side, Sink, Source, Streamed};

/// The engine turnout acts on (the target) and the source environment's.
#[derive(Clone)]
pub struct TwoEngines {
    pub target: Arc<DockerRuntime>,
    pub source: Arc<DockerRuntime>,
}

impl TwoEngines {
    fn on(&self, side: Side) -> &DockerRuntime {
        match side {
            Side::Target => &self.target,
            Side::Source => &self.source,
        }
    }
}

impl DataExec for TwoEngines {
    async fn capture(
        &self,
        spec: &ExecSpec,
        input: Option<&[u8]>,
        limit: usize,
    ) -> Result<Captured, RuntimeError> {
        self.on(spec.side).capture(spec, input, limit).await
    }

    async fn labels(
        &self,
        side: Side,
        name: &str,
    ) -> Result<Option<BTreeMap<String, String>>, RuntimeError> {
        self.on(side).labels(side, name).await
    }

    async fn stream(
        &self,
        from: Source<'_>,
        to: Sink<'_>,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<Streamed, RuntimeError> {
        // A reader or a writer is a file here, on turnout's side.
        let source = match &from {
            Source::Exec(spec) => self.on(spec.side),
            Source::Reader(_) => &self.target,
        };
        let target = match &to {
            Sink::Exec(spec) => self.on(spec.side),
            Sink::Writer(_) => &self.target,
        };
        stream_between((source, from), (target, to), on_bytes).await
    }
}

impl crate::runtime::stream::ReachOut for DockerRuntime {
    type Both = TwoEngines;

    fn identity(&self) -> Option<String> {
        Some(self.address().identity())
    }

    async fn with_source(
        &self,
        source: super::address::EngineAddress,
    ) -> Result<TwoEngines, RuntimeError> {
        let source = DockerRuntime::connect_to(source).await?;
        Ok(TwoEngines {
            target: Arc::new(self.clone()),
            source: Arc::new(source),
        })
    }
}
