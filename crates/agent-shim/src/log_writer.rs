//! The gateway's log writer: lines are appended to a buffer in memory and written to stderr
//! by one thread, in batches.
//!
//! Why not `tracing_appender::non_blocking`: it hands each line to its writer thread through a
//! channel, which wakes that thread once per line — two futex calls, a few `sched_yield`s and
//! one `write` per request. On the 2-core benchmark machine that was a quarter of the gateway's
//! CPU time per request (bench/README.md). Here a line costs an uncontended mutex and a copy;
//! the thread is woken only when it is idle and a line arrives, writes at once, then lets lines
//! gather for [`GATHER`] before it writes again. A line that arrives after a quiet spell is
//! written immediately; under load there are at most ~20 writes a second.
//!
//! A request never waits on the log: when the thread falls [`MAX_PENDING`] bytes behind (a
//! blocked stderr), new lines are dropped and the count is written once it catches up.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer thread lets lines gather after a write.
const GATHER: Duration = Duration::from_millis(50);

/// Bytes of unwritten lines kept before new lines are dropped.
const MAX_PENDING: usize = 4 << 20;

#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    dropped: u64,
    /// The thread is waiting for a line (so the next one must wake it).
    idle: bool,
    stop: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // A panic while the lock is held cannot leave `Pending` half-updated in a way that
        // matters for logging, so a poisoned lock is used as is.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `MakeWriter` for `tracing_subscriber`: each formatted line is one `write` call.
#[derive(Clone)]
pub struct BatchWriter(Arc<Shared>);

/// Stops the writer thread, after it has written every pending line, when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread for `out` (stderr for the gateway).
pub fn start(out: impl Write + Send + 'static) -> (BatchWriter, FlushGuard) {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Pending::default()),
        wake: Condvar::new(),
    });
    let s = shared.clone();
    let thread = std::thread::Builder::new()
        .name("agent-shim-log".into())
        .spawn(move || run(&s, out))
        .ok();
    if thread.is_none() {
        // No thread: nothing would ever write, so lines are dropped rather than kept.
        shared.lock().stop = true;
    }
    (BatchWriter(shared.clone()), FlushGuard { shared, thread })
}

fn run(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        let (stop, dropped) = {
            let mut p = shared.lock();
            while p.buf.is_empty() && !p.stop {
                p.idle = true;
                p = shared.wake.wait(p).unwrap_or_else(PoisonError::into_inner);
            }
            p.idle = false;
            std::mem::swap(&mut batch, &mut p.buf);
            (p.stop, std::mem::take(&mut p.dropped))
        };
        if dropped > 0 {
            let note =
                format!("agent-shim: {dropped} log lines dropped (the log output was blocked)\n");
            batch.extend_from_slice(note.as_bytes());
        }
        // A failed write (a closed stderr) has nowhere to be reported; the lines are lost.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if stop {
            return;
        }
        // Let the next lines gather; a stop request cuts this short.
        let p = shared.lock();
        if !p.stop {
            let _ = shared.wake.wait_timeout(p, GATHER);
        }
    }
}

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut p = self.0.lock();
        if p.stop || p.buf.len() + line.len() > MAX_PENDING {
            p.dropped += 1;
        } else {
            p.buf.extend_from_slice(line);
            if p.idle {
                p.idle = false;
                self.0.wake.notify_one();
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for BatchWriter {
    type Writer = BatchWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` into shared memory, to look at what the thread wrote.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn text(s: &Sink) -> String {
        String::from_utf8(s.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn a_line_after_a_quiet_spell_is_written_at_once_and_every_line_by_the_guard() {
        let sink = Sink::default();
        let (mut w, guard) = start(sink.clone());
        w.write_all(b"first\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while text(&sink).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(text(&sink), "first\n");
        for i in 0..1000 {
            w.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        drop(guard);
        let all = text(&sink);
        assert_eq!(all.lines().count(), 1001, "{all}");
        assert!(all.ends_with("line 999\n"));
    }

    #[test]
    fn lines_beyond_the_limit_are_dropped_and_counted() {
        // No thread yet: the lines stay pending, as behind a blocked stderr.
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let mut w = BatchWriter(shared.clone());
        w.write_all(&vec![b'x'; MAX_PENDING - 10]).unwrap();
        w.write_all(b"too long for what is left\n").unwrap();
        w.write_all(b"kept\n").unwrap();
        shared.lock().stop = true;
        let sink = Sink::default();
        run(&shared, sink.clone());
        let all = text(&sink);
        assert_eq!(
            all.len(),
            MAX_PENDING - 10 + 5 + 61,
            "{}",
            &all[MAX_PENDING - 20..]
        );
        assert!(
            all.ends_with("xkept\nagent-shim: 1 log lines dropped (the log output was blocked)\n"),
            "{}",
            &all[MAX_PENDING - 20..]
        );
    }
}
