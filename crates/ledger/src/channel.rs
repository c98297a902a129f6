//! The bounded queue between the request path and the ledger's writer. [`Sender::send`] never
//! blocks and never waits: when the queue is full (the store is down or slow) the record is
//! dropped and counted ([`Sender::dropped`]), and the count is reported by `/metrics` and
//! `/health`.

use crate::record::UsageRecord;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What happened to the records of one queue, shared by its sender, its receiver and the
/// writer draining it ([`crate::store::spawn_writer`]), so that the gateway, which holds only
/// the [`Sender`], can report the writer's figures too.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Dropped because the queue was full or closed.
    pub(crate) queue_dropped: AtomicU64,
    /// Dropped by the writer (store down and backlog full, or unwritten at shutdown).
    pub(crate) writer_dropped: AtomicU64,
    /// Written to the store.
    pub(crate) written: AtomicU64,
    /// Received by the writer and not written yet.
    pub(crate) pending: AtomicU64,
    /// The last write error while the store keeps failing.
    pub(crate) last_error: Mutex<Option<String>>,
}

/// The request path's end of the queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: mpsc::Sender<UsageRecord>,
    counters: Arc<Counters>,
}

/// The writer's end of the queue.
#[derive(Debug)]
pub struct Receiver {
    pub rx: mpsc::Receiver<UsageRecord>,
    pub(crate) counters: Arc<Counters>,
}

/// A queue holding at most `capacity` records.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let counters = Arc::new(Counters::default());
    (
        Sender {
            tx,
            counters: counters.clone(),
        },
        Receiver { rx, counters },
    )
}

impl Sender {
    /// Queues `record` for the writer; when the queue is full or the writer is gone, drops it
    /// and counts the drop. Never blocks.
    pub fn send(&self, record: UsageRecord) {
        if self.tx.try_send(record).is_err() {
            self.counters.queue_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped since start because the queue was full or the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.counters.queue_dropped.load(Ordering::Relaxed)
    }

    /// Records the writer dropped since start: the store was down and its backlog full, or
    /// they were not written before shutdown ended (as [`crate::store::WriterHandle::dropped`]).
    pub fn store_dropped(&self) -> u64 {
        self.counters.writer_dropped.load(Ordering::Relaxed)
    }

    /// Records lost since start, queue and writer together ([`Sender::dropped`] +
    /// [`Sender::store_dropped`]): what `/metrics` and the dashboard report.
    pub fn lost(&self) -> u64 {
        self.dropped() + self.store_dropped()
    }

    /// Records written to the store since start.
    pub fn written(&self) -> u64 {
        self.counters.written.load(Ordering::Relaxed)
    }

    /// Records the writer holds, not written yet (a growing number: the store is down).
    pub fn pending(&self) -> u64 {
        self.counters.pending.load(Ordering::Relaxed)
    }

    /// The store's last error while it keeps failing (names the database, never its
    /// password); `None` when the last write succeeded.
    pub fn store_error(&self) -> Option<String> {
        self.counters
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (tx, mut rx) = channel(2);
        for _ in 0..5 {
            tx.send(UsageRecord::default());
        }
        assert_eq!(tx.dropped(), 3);
        assert!(rx.rx.try_recv().is_ok());
        assert!(rx.rx.try_recv().is_ok());
        assert!(rx.rx.try_recv().is_err());
    }
}
