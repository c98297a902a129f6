//! Server lifecycle: [`FakeProvider`] (runs on the caller's tokio runtime) and
//! [`FakeProviderThread`] (owns a runtime on a background thread).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::bedrock::auth::AwsState;
use crate::builder::FakeProviderBuilder;
use crate::listener::{Conn, FaultListener};
use crate::script::Script;
use crate::server::{RecordedRequest, Shared, router};

/// A running fake provider served by a task of the current tokio runtime.
/// Dropping it stops accepting connections.
#[derive(Debug)]
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl FakeProvider {
    /// A builder: AWS credentials, replies per Bedrock model and operation, then start.
    pub fn builder() -> FakeProviderBuilder {
        FakeProviderBuilder::new()
    }

    /// Binds `127.0.0.1:0` and serves on a spawned task.
    pub async fn start(script: Script) -> std::io::Result<FakeProvider> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Self::start_on(listener, script).await
    }

    /// Serves on an already-bound listener.
    pub async fn start_on(listener: TcpListener, script: Script) -> std::io::Result<FakeProvider> {
        let addr = listener.local_addr()?;
        let shared = Shared::new(script);
        let app = router(shared.clone()).into_make_service_with_connect_info::<Conn>();
        let listener = FaultListener::new(listener);
        let task = tokio::spawn(async move {
            // `serve` only returns on listener failure; nothing to report.
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeProvider { addr, shared, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.reset();
    }

    /// Replaces the script; step `times` counters restart.
    pub fn set_script(&self, script: Script) {
        self.shared.set_script(script);
    }

    /// The recorded requests of the AWS routes (Bedrock runtime, SSO portal, STS).
    pub fn aws_requests(&self) -> Vec<RecordedRequest> {
        self.shared.aws_requests()
    }

    /// How many times the fake SSO portal handed out credentials (GetRoleCredentials).
    pub fn sso_calls(&self) -> usize {
        AwsState::count(&self.shared.aws.sso_calls)
    }

    /// How many times the fake STS handed out credentials (AssumeRole).
    pub fn sts_calls(&self) -> usize {
        AwsState::count(&self.shared.aws.sts_calls)
    }

    /// How many access tokens the fake Google token endpoint minted (script `vertex`).
    pub fn vertex_tokens_minted(&self) -> usize {
        self.shared.vertex.minted()
    }

    /// Revokes the access tokens minted so far: the Vertex routes answer 401 to them.
    pub fn revoke_vertex_tokens(&self) {
        self.shared.vertex.revoke();
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A fake provider on its own tokio runtime in a background thread, for
/// non-async tests. Stops on drop.
#[derive(Debug)]
pub struct FakeProviderThread {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeProviderThread {
    /// Starts the runtime thread and binds `127.0.0.1:0`.
    pub fn start(script: Script) -> std::io::Result<FakeProviderThread> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-provider".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    match FakeProvider::start(script).await {
                        Ok(fp) => {
                            let _ = ready_tx.send(Ok((fp.addr, fp.shared.clone())));
                            let _ = stop_rx.await;
                            drop(fp);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
            })?;
        let (addr, shared) = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("fake-provider thread died during startup"))??;
        Ok(FakeProviderThread {
            addr,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.reset();
    }

    /// Replaces the script; step `times` counters restart.
    pub fn set_script(&self, script: Script) {
        self.shared.set_script(script);
    }

    /// The recorded requests of the AWS routes (Bedrock runtime, SSO portal, STS).
    pub fn aws_requests(&self) -> Vec<RecordedRequest> {
        self.shared.aws_requests()
    }

    /// How many times the fake SSO portal handed out credentials (GetRoleCredentials).
    pub fn sso_calls(&self) -> usize {
        AwsState::count(&self.shared.aws.sso_calls)
    }

    /// How many times the fake STS handed out credentials (AssumeRole).
    pub fn sts_calls(&self) -> usize {
        AwsState::count(&self.shared.aws.sts_calls)
    }
}

impl Drop for FakeProviderThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
