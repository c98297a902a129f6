//! The batching writer: the one task between the request path's queue ([`crate::channel`]) and
//! the store. It writes a batch (up to [`WriterOptions::batch`] records, or whatever came within
//! [`WriterOptions::interval`]) in one transaction with its rollups; while the store is down it
//! keeps up to [`WriterOptions::backlog`] records, retries with a growing pause, and counts the
//! records it had to drop ([`WriterHandle::dropped`]); one warning per outage, one line when the
//! store is back. It prunes records older than the retention (and clears captured bodies older
//! than theirs) once at start and daily, and
//! [`WriterHandle::shutdown`] writes what is pending before the process exits.

use super::Store;
use crate::channel::{Counters, Receiver};
use crate::record::UsageRecord;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// How often the writer looks at the queue while a batch is gathering. It is not woken by each
/// record then: a wake-up is a futex call and a context switch on the thread that served the
/// request (measured: half of the ledger's cost per request at 10,000 requests/s), and 20 ms
/// lets a 10,000-record queue take 500,000 records/s.
const GATHER_POLL: Duration = Duration::from_millis(20);

/// How the writer batches, holds and prunes.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Most records per transaction (default 500).
    pub batch: usize,
    /// Longest a record waits before its batch is written (default 200 ms).
    pub interval: Duration,
    /// Most records held while the store is down (default 100,000); more are dropped and
    /// counted.
    pub backlog: usize,
    /// First pause before retrying a failed write (default 1 s), doubled up to `max_retry`.
    pub retry: Duration,
    /// Longest pause between retries (default 30 s).
    pub max_retry: Duration,
    /// A write that takes longer fails and is retried (default 30 s).
    pub write_timeout: Duration,
    /// Delete records older than this many days, at start and then every `prune_every`
    /// (`usage_retention_days`; `None` keeps everything; rollups always stay).
    pub retention_days: Option<u32>,
    /// Clear the captured bodies (`request_body`, `response_body`) of records older than this
    /// many days, keeping the records, in the same pass (`body_capture_retention_days`;
    /// `None` keeps them as long as their records).
    pub body_retention_days: Option<u32>,
    /// How often retention runs (default a day).
    pub prune_every: Duration,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            batch: 500,
            interval: Duration::from_millis(200),
            backlog: 100_000,
            retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            retention_days: None,
            body_retention_days: None,
            prune_every: Duration::from_secs(24 * 3600),
        }
    }
}

/// The running writer: its counters, and [`WriterHandle::shutdown`].
#[derive(Debug)]
pub struct WriterHandle {
    stats: Arc<Counters>,
    stop: Option<oneshot::Sender<Instant>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WriterHandle {
    /// Records the writer dropped because the store was down and its backlog was full, or
    /// because they could not be written before shutdown ended. (Records the queue itself
    /// dropped are [`crate::Sender::dropped`].)
    pub fn dropped(&self) -> u64 {
        self.stats.writer_dropped.load(Ordering::Relaxed)
    }

    /// Records written to the store since start.
    pub fn written(&self) -> u64 {
        self.stats.written.load(Ordering::Relaxed)
    }

    /// Records received and not written yet.
    pub fn pending(&self) -> u64 {
        self.stats.pending.load(Ordering::Relaxed)
    }

    /// The error of the last failed write while the store is still failing (`None` once a
    /// write succeeds again); it names the database, never its password.
    pub fn last_error(&self) -> Option<String> {
        self.stats
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops taking records, writes those already queued (retrying until `timeout` ends) and
    /// waits for the writer to finish; returns how many records the writer dropped since start.
    pub async fn shutdown(mut self, timeout: Duration) -> u64 {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(Instant::now() + timeout);
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.dropped()
    }
}

/// Starts the writer on the current tokio runtime: it drains `receiver` into `store` until
/// [`WriterHandle::shutdown`], or until every sender is gone (after writing what they sent;
/// dropping the handle leaves it running).
pub fn spawn_writer(
    store: Arc<dyn Store>,
    receiver: Receiver,
    options: WriterOptions,
) -> WriterHandle {
    let stats = receiver.counters.clone();
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(
        Writer {
            store,
            options,
            stats: stats.clone(),
            backlog: VecDeque::new(),
            outage: None,
        }
        .run(receiver, stopped),
    );
    WriterHandle {
        stats,
        stop: Some(stop),
        task: Some(task),
    }
}

/// A failing store: since when, how many attempts, and when to try again.
struct Outage {
    failures: u32,
    next_try: Instant,
}

struct Writer {
    store: Arc<dyn Store>,
    options: WriterOptions,
    stats: Arc<Counters>,
    backlog: VecDeque<UsageRecord>,
    outage: Option<Outage>,
}

impl Writer {
    async fn run(mut self, mut receiver: Receiver, mut stopped: oneshot::Receiver<Instant>) {
        let mut next_prune = Instant::now();
        let mut deadline: Option<Instant> = None;
        let mut open = true;
        let mut watching = true;
        let mut oldest: Option<Instant> = None;
        while open {
            let retains =
                self.options.retention_days.is_some() || self.options.body_retention_days.is_some();
            if retains && Instant::now() >= next_prune {
                self.prune().await;
                next_prune = Instant::now() + self.options.prune_every;
            }
            let wake = match (&self.outage, oldest) {
                (Some(o), _) => o.next_try,
                (None, Some(t)) => t + self.options.interval,
                (None, None) => Instant::now() + self.options.interval.max(Duration::from_secs(1)),
            };
            // Once a batch is gathering, the queue is looked at every GATHER_POLL instead of
            // waking the writer for every record.
            let gathering = oldest.is_some() || self.outage.is_some();
            let wake = if gathering {
                wake.min(Instant::now() + GATHER_POLL)
            } else {
                wake
            };
            tokio::select! {
                biased;
                d = &mut stopped, if watching => {
                    watching = false;
                    // A dropped handle leaves the writer running until every sender is gone.
                    if let Ok(d) = d {
                        deadline = Some(d);
                        receiver.rx.close();
                    }
                }
                got = receiver.rx.recv(), if !gathering => match got {
                    Some(r) => {
                        self.take(r);
                        oldest.get_or_insert_with(Instant::now);
                        while self.backlog.len() < self.options.batch.max(1) {
                            match receiver.rx.try_recv() {
                                Ok(r) => self.take(r),
                                Err(_) => break,
                            }
                        }
                    }
                    None => open = false,
                },
                _ = tokio::time::sleep_until(wake) => {
                    let before = self.backlog.len();
                    while let Ok(r) = receiver.rx.try_recv() {
                        self.take(r);
                    }
                    if self.backlog.len() > before {
                        oldest.get_or_insert_with(Instant::now);
                    }
                    if receiver.rx.is_closed() && receiver.rx.is_empty() {
                        open = false;
                    }
                }
            }
            if deadline.is_some() {
                continue;
            }
            let due = oldest.is_some_and(|t| t.elapsed() >= self.options.interval)
                || self.backlog.len() >= self.options.batch.max(1);
            let may_try = self
                .outage
                .as_ref()
                .is_none_or(|o| Instant::now() >= o.next_try);
            if due && may_try {
                self.flush().await;
                oldest = (!self.backlog.is_empty()).then(Instant::now);
            }
        }
        // The queue is closed (shutdown) or every sender is gone: write what is left.
        while let Ok(r) = receiver.rx.try_recv() {
            self.take(r);
        }
        let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(5));
        while !self.backlog.is_empty() && Instant::now() < deadline {
            if let Some(o) = &self.outage {
                tokio::time::sleep_until(o.next_try.min(deadline)).await;
            }
            self.flush().await;
        }
        let left = self.backlog.len() as u64;
        if left > 0 {
            self.stats.writer_dropped.fetch_add(left, Ordering::Relaxed);
            self.stats.pending.store(0, Ordering::Relaxed);
            tracing::warn!(
                "usage ledger: {left} records could not be written before shutdown and are lost"
            );
        }
    }

    /// Holds `r` for the next batch, or drops it (counted) when the backlog is full.
    fn take(&mut self, r: UsageRecord) {
        if self.backlog.len() >= self.options.backlog.max(self.options.batch) {
            self.stats.writer_dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.backlog.push_back(r);
        self.stats.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes the backlog in batches until it is empty or a write fails.
    async fn flush(&mut self) {
        while !self.backlog.is_empty() {
            let n = self.backlog.len().min(self.options.batch.max(1));
            let batch = &self.backlog.make_contiguous()[..n];
            let write =
                tokio::time::timeout(self.options.write_timeout, self.store.insert_batch(batch))
                    .await;
            let error = match write {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e.to_string()),
                Err(_) => Some(format!(
                    "usage ledger ({}): a write took longer than {:?}",
                    self.store.engine(),
                    self.options.write_timeout
                )),
            };
            if let Some(e) = error {
                self.failed(e);
                return;
            }
            self.backlog.drain(..n);
            self.stats.written.fetch_add(n as u64, Ordering::Relaxed);
            self.stats.pending.fetch_sub(n as u64, Ordering::Relaxed);
            if let Some(o) = self.outage.take() {
                tracing::warn!(
                    "usage ledger: the store is back after {} failed writes; {} records \
                     dropped so far",
                    o.failures,
                    self.stats.writer_dropped.load(Ordering::Relaxed)
                );
                *self
                    .stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
            }
        }
    }

    fn failed(&mut self, error: String) {
        let o = self.outage.get_or_insert_with(|| {
            tracing::warn!(
                "{error}; holding up to {} records and retrying (records beyond that are \
                 dropped and counted)",
                self.options.backlog
            );
            Outage {
                failures: 0,
                next_try: Instant::now(),
            }
        });
        o.failures += 1;
        let pause = self
            .options
            .retry
            .saturating_mul(1 << o.failures.min(16).saturating_sub(1))
            .min(self.options.max_retry);
        o.next_try = Instant::now() + pause;
        *self
            .stats
            .last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(error);
    }

    /// The retention pass: clears captured bodies past their retention, then deletes records
    /// past theirs.
    async fn prune(&mut self) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        if let Some(days) = self.options.body_retention_days {
            let before = now_ms - i64::from(days) * super::write::DAY_MS;
            match self.store.clear_bodies(before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    "usage ledger: cleared the captured bodies of {n} records older than \
                     {days} days (body_capture_retention_days; the records stay)"
                ),
                Err(e) => tracing::warn!("usage ledger: body retention: {e}"),
            }
        }
        let Some(days) = self.options.retention_days else {
            return;
        };
        let before = now_ms - i64::from(days) * super::write::DAY_MS;
        match self.store.prune(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                "usage ledger: deleted {n} records older than {days} days \
                 (usage_retention_days; daily rollups kept)"
            ),
            Err(e) => tracing::warn!("usage ledger: retention: {e}"),
        }
    }
}
