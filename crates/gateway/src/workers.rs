//! Thread-per-core serving: one thread accepts connections and hands them round-robin to worker
//! threads, each running its own single-threaded tokio runtime with its own upstream connection
//! pool. A request — the client connection, the upstream connection and the streaming loop
//! between them — then lives on one thread, as in nginx's worker model.
//!
//! Why not tokio's work-stealing runtime: on the 2-core benchmark machine it woke an idle
//! worker to look for work at nearly every hand-off between the client and upstream tasks
//! (futex calls and context switches on every request and every stream chunk). Per-thread
//! runtimes cut the gateway's CPU per request by about a fifth and keep every core busy under
//! load, which one single-threaded runtime cannot (bench/README.md, "Profile").

use axum::Router;
use std::cell::Cell;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// Most worker threads; more are not useful on any machine this runs on.
pub const MAX_WORKERS: usize = 64;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The number of the worker thread this runs on: 1..=[`MAX_WORKERS`], or 0 outside the workers
/// (tests that serve on their own runtime, the admin side of the binary).
pub fn current() -> usize {
    WORKER.with(Cell::get)
}

/// The worker count to use by default: one per CPU the process may run on.
pub fn default_count() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS)
}

/// A worker's incoming connections, as an axum listener.
struct Inbox {
    rx: mpsc::UnboundedReceiver<std::net::TcpStream>,
    local: SocketAddr,
}

impl axum::serve::Listener for Inbox {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            let Some(std) = self.rx.recv().await else {
                // The acceptor stopped: only the graceful shutdown ends this worker now.
                return std::future::pending().await;
            };
            let peer = std.peer_addr();
            // Registers the socket with this worker's own I/O driver.
            match (TcpStream::from_std(std), peer) {
                (Ok(tcp), Ok(peer)) => return (tcp, peer),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::debug!(error = %e, "dropped a connection handed to a worker");
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// Serves `app` on `workers` threads (at least 1, at most [`MAX_WORKERS`]) until `shutdown`
/// completes, then lets each worker finish its in-flight requests and waits for all of them.
/// Runs on the caller's runtime, which only accepts connections.
///
/// Errors: a worker thread or runtime that cannot be started, or the listener's address.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    workers: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let workers = workers.clamp(1, MAX_WORKERS);
    let local = listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut inboxes = Vec::with_capacity(workers);
    let mut finished = Vec::with_capacity(workers);
    for n in 1..=workers {
        let (tx, rx) = mpsc::unbounded_channel();
        let (done_tx, done_rx) = oneshot::channel::<std::io::Result<()>>();
        let app = app.clone();
        let mut stop = stop_rx.clone();
        std::thread::Builder::new()
            .name(format!("agent-shim-worker-{n}"))
            .spawn(move || {
                WORKER.with(|w| w.set(n));
                let r = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .and_then(|rt| {
                        rt.block_on(async move {
                            axum::serve(Inbox { rx, local }, app.into_make_service())
                                .with_graceful_shutdown(async move {
                                    let _ = stop.wait_for(|s| *s).await;
                                })
                                .await
                        })
                    });
                let _ = done_tx.send(r);
            })?;
        inboxes.push(tx);
        finished.push(done_rx);
    }

    let mut shutdown = std::pin::pin!(shutdown);
    let mut next = 0;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    // Stream events are small writes: without TCP_NODELAY, Nagle's algorithm
                    // and the client's delayed ACK hold each one for up to 40 ms.
                    let _ = tcp.set_nodelay(true);
                    match tcp.into_std() {
                        Ok(std) => {
                            let _ = inboxes[next].send(std);
                            next = (next + 1) % workers;
                        }
                        Err(e) => tracing::debug!(error = %e, "dropped an accepted connection"),
                    }
                }
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::error!(error = %e, "cannot accept connections");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let mut first_error = None;
    for done in finished {
        if let Ok(Err(e)) = done.await {
            first_error.get_or_insert(e);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Errors of one connection, not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
