//! The bounded queue between the request path and the ledger's writer. [`Sender::send`] never
//! blocks and never waits: when the queue is full (the store is down or slow) the record is
//! dropped and counted ([`Sender::dropped`]), and the count is reported by `/metrics` and
//! `/health`.

use crate::record::UsageRecord;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// The request path's end of the queue; cheap to clone.
#[derive(Debug, Clone)]
pub struct Sender {
    tx: mpsc::Sender<UsageRecord>,
    dropped: Arc<AtomicU64>,
}

/// The writer's end of the queue.
#[derive(Debug)]
pub struct Receiver {
    pub rx: mpsc::Receiver<UsageRecord>,
}

/// A queue holding at most `capacity` records.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (
        Sender {
            tx,
            dropped: Arc::new(AtomicU64::new(0)),
        },
        Receiver { rx },
    )
}

impl Sender {
    /// Queues `record` for the writer; when the queue is full or the writer is gone, drops it
    /// and counts the drop. Never blocks.
    pub fn send(&self, record: UsageRecord) {
        if self.tx.try_send(record).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records dropped since start because the queue was full or the writer had stopped.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
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
