//! The HTTP server's connection table: at most `limit` connections are
//! open, and a new one is let in by closing an *idle* one (no complete
//! request being handled: silent, half a request line, a dribbled header or
//! body, or an idle keep-alive), never a request in progress.
//!
//! Whom to close: the idle connection that has waited longest among those of
//! the peer holding the most connections (IPv6 peers counted per /64, the
//! block one host usually has). A flood from one address therefore evicts
//! itself and leaves other peers' connections alone. A flood spread over
//! many addresses falls back to oldest-idle-first, and a newcomer is evicted
//! only after `limit` more connections arrive before it has sent its
//! request, which a real client does within one round trip.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

/// The open connections.
pub struct Conns {
    limit: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next: u64,
    open: BTreeMap<u64, Arc<Slot>>,
}

/// One open connection, as its task and the table see it.
pub struct Slot {
    id: u64,
    peer: PeerKey,
    state: Mutex<SlotState>,
    close: Notify,
}

struct SlotState {
    busy: bool,
    /// When it last became idle (accepted, or finished a request).
    idle_since: Instant,
}

/// A peer's address, IPv6 reduced to its /64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PeerKey(IpAddr);

impl PeerKey {
    fn of(ip: IpAddr) -> PeerKey {
        match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => PeerKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    PeerKey(IpAddr::V6(std::net::Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
            v4 => PeerKey(v4),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves plain data behind; go on.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Conns {
    pub fn new(limit: usize) -> Conns {
        Conns {
            limit: limit.max(1),
            inner: Mutex::default(),
        }
    }

    /// Admits a new connection from `peer`, closing an idle one first when
    /// the table is full. `None` when every open connection is handling a
    /// request: the newcomer is then the one refused.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Option<Admitted> {
        let mut inner = lock(&self.inner);
        if inner.open.len() >= self.limit && !evict_one(&mut inner) {
            return None;
        }
        let id = inner.next;
        inner.next += 1;
        let slot = Arc::new(Slot {
            id,
            peer: PeerKey::of(peer),
            state: Mutex::new(SlotState {
                busy: false,
                idle_since: Instant::now(),
            }),
            close: Notify::new(),
        });
        inner.open.insert(id, slot.clone());
        Some(Admitted {
            conns: self.clone(),
            slot,
        })
    }

    /// Closes one idle connection (the accept loop does this when the
    /// process runs out of file descriptors). False when none is idle.
    pub fn evict_idle(&self) -> bool {
        evict_one(&mut lock(&self.inner))
    }

    /// How many connections are open.
    pub fn open(&self) -> usize {
        lock(&self.inner).open.len()
    }
}

/// Picks the victim (see the module doc), tells its task to close and
/// forgets it at once, so the count is right before the socket is gone.
fn evict_one(inner: &mut Inner) -> bool {
    let mut per_peer: HashMap<PeerKey, usize> = HashMap::new();
    for s in inner.open.values() {
        *per_peer.entry(s.peer).or_default() += 1;
    }
    let victim = inner
        .open
        .values()
        .filter_map(|s| {
            let st = lock(&s.state);
            (!st.busy).then(|| (s.clone(), st.idle_since))
        })
        .max_by(|(a, a_since), (b, b_since)| {
            let (na, nb) = (per_peer[&a.peer], per_peer[&b.peer]);
            // More connections first, then waited longest, then accepted first.
            na.cmp(&nb).then(b_since.cmp(a_since)).then(b.id.cmp(&a.id))
        })
        .map(|(s, _)| s);
    match victim {
        Some(s) => {
            inner.open.remove(&s.id);
            s.close.notify_one();
            true
        }
        None => false,
    }
}

/// A connection's place in the table; leaving it (drop) frees the place.
pub struct Admitted {
    conns: Arc<Conns>,
    slot: Arc<Slot>,
}

impl Admitted {
    pub fn slot(&self) -> Arc<Slot> {
        self.slot.clone()
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        lock(&self.conns.inner).open.remove(&self.slot.id);
    }
}

impl Slot {
    /// Marks a complete request as being handled until the guard drops:
    /// such a connection is never evicted.
    pub fn busy(self: &Arc<Self>) -> Busy {
        lock(&self.state).busy = true;
        Busy(self.clone())
    }

    /// Resolves when the table evicts this connection.
    pub async fn evicted(&self) {
        self.close.notified().await
    }

    /// How long it has been idle (zero while a request is handled).
    pub fn idle_for(&self) -> std::time::Duration {
        let st = lock(&self.state);
        if st.busy {
            std::time::Duration::ZERO
        } else {
            st.idle_since.elapsed()
        }
    }
}

/// See [`Slot::busy`].
pub struct Busy(Arc<Slot>);

impl Drop for Busy {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        st.busy = false;
        st.idle_since = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn a_full_table_evicts_the_oldest_idle_connection() {
        let conns = Arc::new(Conns::new(3));
        let a = conns.admit(ip("10.0.0.1")).unwrap();
        let b = conns.admit(ip("10.0.0.1")).unwrap();
        let c = conns.admit(ip("10.0.0.1")).unwrap();
        let _busy = a.slot().busy();
        let d = conns.admit(ip("10.0.0.1")).unwrap();
        // a handles a request, so b (the oldest idle) goes.
        tokio::time::timeout(std::time::Duration::from_secs(1), b.slot().evicted())
            .await
            .unwrap();
        assert_eq!(conns.open(), 3);
        drop((b, c, d));
        assert_eq!(conns.open(), 1);
    }

    #[tokio::test]
    async fn the_heaviest_peer_pays_for_a_flood() {
        let conns = Arc::new(Conns::new(4));
        let honest = conns.admit(ip("192.0.2.7")).unwrap();
        let flood: Vec<_> = (0..3)
            .map(|_| conns.admit(ip("2001:db8::1")).unwrap())
            .collect();
        // Another address in the same /64 counts as the same peer.
        let more = conns.admit(ip("2001:db8::99")).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), flood[0].slot().evicted())
            .await
            .unwrap();
        assert_eq!(conns.open(), 4);
        // The honest connection is older than all of them and still open.
        let still_open = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            honest.slot().evicted(),
        )
        .await;
        assert!(still_open.is_err());
        drop(more);
    }

    #[tokio::test]
    async fn busy_connections_are_never_evicted() {
        let conns = Arc::new(Conns::new(2));
        let a = conns.admit(ip("127.0.0.1")).unwrap();
        let b = conns.admit(ip("127.0.0.1")).unwrap();
        let (_ba, bb) = (a.slot().busy(), b.slot().busy());
        assert!(conns.admit(ip("127.0.0.1")).is_none());
        assert!(!conns.evict_idle());
        assert_eq!(b.slot().idle_for(), std::time::Duration::ZERO);
        drop(bb);
        assert!(conns.admit(ip("127.0.0.1")).is_some());
    }
}
