//! The keep-alive pool of the HTTP/1.1 upstream client ([`super`]): idle connections by upstream
//! host and port, one slot per worker thread ([`crate::workers`]) so that no lock is shared
//! between workers (a slot's lock is taken by its own worker only, never across an `.await`), and
//! a connection is always driven by the thread that uses it. At most [`MAX_IDLE_PER_HOST`] idle
//! connections per host per worker, each closed after [`IDLE_TIMEOUT`] unused.

use hyper::client::conn::http1::SendRequest;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

/// How long a connection may stay idle in the pool before it is closed (as reqwest's pool did).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// Idle connections kept per upstream host and port, per worker.
pub const MAX_IDLE_PER_HOST: usize = 256;

/// The request body type of the client's connections.
pub(crate) type Sender = SendRequest<http_body_util::Full<bytes::Bytes>>;

/// Idle connections of one worker thread, by `host:port`.
#[derive(Default)]
struct Slot {
    idle: HashMap<Arc<str>, VecDeque<Idle>>,
    /// A task closing expired connections runs on this slot's thread.
    reaper: bool,
}

struct Idle {
    sender: Sender,
    since: Instant,
}

/// Every worker's idle connections. Shared by the gateway's [`crate::upstream::Upstream`] and
/// the [`Lease`]s of answers still being read.
pub struct Pools {
    slots: Box<[Mutex<Slot>]>,
}

impl Pools {
    /// One slot per possible worker (and slot 0 for threads outside the workers, e.g. tests).
    pub fn new() -> Arc<Pools> {
        Arc::new(Pools {
            slots: (0..=crate::workers::MAX_WORKERS)
                .map(|_| Mutex::default())
                .collect(),
        })
    }

    /// This thread's slot index.
    pub(crate) fn here(&self) -> usize {
        crate::workers::current() % self.slots.len()
    }

    fn slot(&self, slot: usize) -> MutexGuard<'_, Slot> {
        // A panic while holding the lock cannot leave a slot half-updated in a way that matters
        // (the worst is an idle connection lost), so a poisoned lock is used as is.
        self.slots[slot]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The most recently used idle connection to `key` in `slot` that was not idle for too long
    /// and is not known to be closed. Whether its upstream closed it meanwhile is only certain
    /// once a request is offered ([`super::send`]).
    pub(crate) fn checkout(&self, slot: usize, key: &str) -> Option<Sender> {
        let mut s = self.slot(slot);
        let queue = s.idle.get_mut(key)?;
        let now = Instant::now();
        while let Some(idle) = queue.pop_back() {
            if now.duration_since(idle.since) >= IDLE_TIMEOUT {
                // The newest has expired, so have all older ones.
                queue.clear();
                break;
            }
            if !idle.sender.is_closed() {
                return Some(idle.sender);
            }
        }
        None
    }

    /// Gives back a connection whose last answer was read to the end. A closed one, or one over
    /// the limit, is dropped (which closes it).
    pub(crate) fn checkin(self: &Arc<Self>, slot: usize, key: &Arc<str>, sender: Sender) {
        // Outside a runtime (a body dropped as the gateway shuts down) the connection could not
        // be driven any more, and no reaper could be started.
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if sender.is_closed() {
            return;
        }
        let now = Instant::now();
        let start_reaper = {
            let mut s = self.slot(slot);
            let queue = s.idle.entry(key.clone()).or_default();
            while queue
                .front()
                .is_some_and(|i| now.duration_since(i.since) >= IDLE_TIMEOUT)
            {
                queue.pop_front();
            }
            if queue.len() >= MAX_IDLE_PER_HOST {
                return;
            }
            queue.push_back(Idle { sender, since: now });
            !std::mem::replace(&mut s.reaper, true)
        };
        if start_reaper {
            rt.spawn(reap(Arc::downgrade(self), slot));
        }
    }

    /// Idle connections of `slot` to `key` (tests of the pool).
    #[cfg(test)]
    fn idle(&self, slot: usize, key: &str) -> usize {
        self.slot(slot).idle.get(key).map_or(0, VecDeque::len)
    }
}

/// Closes `slot`'s connections idle for longer than [`IDLE_TIMEOUT`] (dropping a connection's
/// sender closes it), on the slot's own thread, until the slot has none left. Ends when the
/// gateway is gone.
async fn reap(pools: Weak<Pools>, slot: usize) {
    let mut wait = IDLE_TIMEOUT;
    loop {
        tokio::time::sleep(wait).await;
        let Some(pools) = pools.upgrade() else {
            return;
        };
        let now = Instant::now();
        let mut s = pools.slot(slot);
        let mut oldest: Option<Instant> = None;
        s.idle.retain(|_, queue| {
            queue.retain(|i| now.duration_since(i.since) < IDLE_TIMEOUT && !i.sender.is_closed());
            if let Some(front) = queue.front() {
                oldest = Some(oldest.map_or(front.since, |o| o.min(front.since)));
            }
            !queue.is_empty()
        });
        match oldest {
            // Wake when the oldest remaining connection expires.
            Some(o) => {
                wait =
                    IDLE_TIMEOUT.saturating_sub(now.duration_since(o)) + Duration::from_millis(10)
            }
            None => {
                s.reaper = false;
                return;
            }
        }
    }
}

/// A connection lent to one request: given back to its worker's pool by [`Lease::release`] when
/// the answer was read to the end or dropped (hyper then drains or closes it); dropped after a
/// failure, which closes the connection.
pub(crate) struct Lease {
    pub(crate) pools: Arc<Pools>,
    pub(crate) slot: usize,
    pub(crate) key: Arc<str>,
    pub(crate) sender: Sender,
}

impl Lease {
    /// Returns the connection to the pool.
    pub(crate) fn release(self) {
        self.pools.checkin(self.slot, &self.key, self.sender);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_closed_connection_is_not_lent_and_a_live_one_is() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = tokio::spawn(async move {
            let (a, _) = listener.accept().await.unwrap();
            let (b, _) = listener.accept().await.unwrap();
            (a, b)
        });
        let mut senders = Vec::new();
        for _ in 0..2 {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (sender, conn) =
                hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(s))
                    .await
                    .unwrap();
            tokio::spawn(conn);
            senders.push(sender);
        }
        let (first_server, _second_server) = accept.await.unwrap();
        let pools = Pools::new();
        let key: Arc<str> = Arc::from("127.0.0.1:1");
        let live = senders.pop().unwrap();
        let closing = senders.pop().unwrap();
        pools.checkin(0, &key, live);
        pools.checkin(0, &key, closing);
        assert_eq!(pools.idle(0, &key), 2);
        // The upstream closes the newest one while it is idle.
        drop(first_server);
        let mut closed = false;
        for _ in 0..100 {
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(5)).await;
            // Only the check matters here; `checkout` also skips what it finds closed.
            closed = pools.slot(0).idle[&key].back().unwrap().sender.is_closed();
            if closed {
                break;
            }
        }
        assert!(closed, "the connection task did not notice the close");
        let lent = pools.checkout(0, &key).expect("the live connection");
        assert!(!lent.is_closed());
        assert_eq!(pools.idle(0, &key), 0);
        assert!(pools.checkout(0, &key).is_none());
    }
}
