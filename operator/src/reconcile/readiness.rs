//! Which desired containers are ready: running, turnout's, and their probe
//! passed. A container's result is cached by container id, so a converged
//! host is probed once, not on every reconcile.

use std::collections::{BTreeSet, HashMap};

use futures::future::join_all;

use super::Reconciler;
use crate::core::model::{Desired, DesiredContainer, ObservedContainer, RunState};
use crate::host::HostPorts;
use crate::probe;
use crate::runtime::ContainerRuntime;

impl<R: ContainerRuntime, H: HostPorts> Reconciler<R, H> {
    pub(super) async fn readiness(
        &self,
        desired: &Desired,
        observed: &[ObservedContainer],
    ) -> BTreeSet<String> {
        let running: Vec<(&DesiredContainer, &ObservedContainer)> = desired
            .containers
            .iter()
            .filter_map(|d| {
                observed
                    .iter()
                    .find(|o| {
                        o.name == d.name()
                            && o.state == RunState::Running
                            && o.is_ours(&desired.plan)
                    })
                    .map(|o| (d, o))
            })
            .collect();
        let cached: HashMap<String, bool> = self.cache().clone();
        let probes = running.iter().map(|(d, o)| {
            let known = cached.get(&o.id).copied() == Some(true);
            async move {
                let ok = known || probe::probe_once(self.runtime.as_ref(), &d.spec).await;
                (d.name().to_string(), o.id.clone(), ok)
            }
        });
        let results = join_all(probes).await;
        let mut cache = self.cache();
        cache.retain(|id, _| {
            observed
                .iter()
                .any(|o| &o.id == id && o.state == RunState::Running)
        });
        let mut ready = BTreeSet::new();
        for (name, id, ok) in results {
            cache.insert(id, ok);
            if ok {
                ready.insert(name);
            }
        }
        ready
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, bool>> {
        match self.ready_cache.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
