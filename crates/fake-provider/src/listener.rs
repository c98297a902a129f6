//! The fake's TCP listener: sets `TCP_NODELAY` on every connection and hands each request a
//! [`Conn`] with which the handler can reset its own connection ([`crate::Fault::Reset`]):
//! the next write fails and the socket is dropped with a zero linger, so the peer gets a TCP
//! reset and not one response byte.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A [`TcpListener`] whose connections can be reset by the request they carry.
pub(crate) struct FaultListener {
    inner: TcpListener,
}

impl FaultListener {
    pub fn new(inner: TcpListener) -> FaultListener {
        FaultListener { inner }
    }
}

/// One accepted connection, as seen by a request handler (through `ConnectInfo<Conn>`).
#[derive(Clone, Debug)]
pub(crate) struct Conn {
    reset: Arc<AtomicBool>,
}

impl Conn {
    /// Resets the connection instead of writing anything more on it.
    pub fn reset(&self) {
        self.reset.store(true, Ordering::Release);
    }
}

/// The connection's stream: fails every write after [`Conn::reset`], with a zero linger set so
/// the close is a TCP reset.
pub(crate) struct Io {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Io {
    /// `Some(error)` once the connection was reset (and the zero linger set).
    fn check(&self) -> Option<io::Error> {
        if !self.reset.load(Ordering::Acquire) {
            return None;
        }
        // Best effort: without the zero linger the peer sees a clean close, still no response.
        let _ = self.stream.set_zero_linger();
        Some(io::Error::from(io::ErrorKind::ConnectionReset))
    }
}

impl AsyncRead for Io {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Listener for FaultListener {
    type Io = Io;
    type Addr = Conn;

    async fn accept(&mut self) -> (Io, Conn) {
        loop {
            match self.inner.accept().await {
                Ok((stream, _)) => {
                    // Small SSE writes must not wait for Nagle / delayed ACKs.
                    let _ = stream.set_nodelay(true);
                    let reset = Arc::new(AtomicBool::new(false));
                    let conn = Conn {
                        reset: reset.clone(),
                    };
                    return (Io { stream, reset }, conn);
                }
                // Out of file descriptors and the like: wait, as axum's own listener does.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Conn> {
        self.inner.local_addr().map(|_| Conn {
            reset: Arc::new(AtomicBool::new(false)),
        })
    }
}

impl Connected<IncomingStream<'_, FaultListener>> for Conn {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Conn {
        stream.remote_addr().clone()
    }
}
