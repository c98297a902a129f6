//! `agent-shim serve`: the gateway in the foreground, with every model definition (built-in,
//! models.yaml, config.yaml `model_list`) and every profile's tiers. Holds the pid file while it
//! runs (run by the service, also a mark saying so); reloads its files when they change, on
//! SIGHUP and on `agent-shim proxy reload` ([`crate::config_watch`]); stops on SIGTERM or Ctrl-C
//! after in-flight requests finish. With a PostgreSQL `database_url`, several `serve` instances
//! on that database share registrations, cooldowns and rate counters ([`shared_state`]).

use crate::cli::ServeArgs;
use crate::config_watch::{self, FilesSource};
use crate::daemon::{PidLock, ServiceMark};
use crate::error::{CliError, Result};
use crate::log_writer;
use crate::settings::secrets::FileSecrets;
use crate::settings::{Settings, catalog, env_vars, litellm};
use crate::state::{StateDb, now_ms};
use gateway::{Gateway, GatewayConfig, LeaseSink, Registered};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    if args.new_session {
        // A background gateway (`proxy start`) leaves the session of the terminal it was started
        // from, so closing that terminal or a Ctrl-C there does not reach it. Done here, in the
        // child itself, rather than in a `pre_exec` hook of the parent (which needs `unsafe`):
        // the spawned child is not a process-group leader, so `setsid` succeeds.
        rustix::process::setsid().map_err(|e| {
            CliError::failed(format!(
                "cannot detach the gateway from the terminal (setsid): {e}"
            ))
        })?;
    }
    let settings = Settings::load(&args.net, args.config.as_deref())?;
    let _log = init_logging(&settings);
    crate::alloc::return_freed_memory();
    // Nothing in the config is dropped silently (issue 11 §1).
    for w in &settings.config.warnings {
        tracing::warn!("{w}");
    }
    let sourced = catalog::load_models(&settings)?;
    // Built-in definitions wait for their provider's variables (Azure's endpoint): one that
    // cannot be served yet is reported at info level, and by `with` when a profile uses it.
    let builtin: Vec<String> = sourced
        .iter()
        .filter(|m| m.source == catalog::Source::BuiltIn)
        .map(|m| m.item.model_name.clone())
        .collect();
    let models: Vec<_> = sourced.into_iter().map(|m| m.item).collect();
    let profiles: HashMap<String, gateway::Tiers> = catalog::load_profiles(&settings)?
        .into_iter()
        .map(|(name, p)| (name, p.item.tiers()))
        .collect();
    let master_key = settings.master_key()?;
    let _lock = PidLock::acquire(&settings)?;
    // The service's gateway says so next to its pid file (`proxy stop` then leaves it alone);
    // another one removes a mark a killed service gateway left.
    let _mark = match args.managed_by {
        Some(m) => Some(ServiceMark::write(&settings, m)?),
        None => {
            let _ = std::fs::remove_file(settings.service_mark_path());
            None
        }
    };
    // A managed gateway (the state database under the state dir) serves every definition but
    // registers only the leased models, plus those listed in its config file (LiteLLM style).
    let mut db = StateDb::open(&settings.state_dir)?;
    let mut registered = db.leased_models(now_ms())?;
    registered.extend(
        settings
            .config
            .model_list
            .iter()
            .map(|m| m.model_name.clone()),
    );
    db.forget_registrations()?;
    db.mark_registered(
        &registered
            .iter()
            .map(|m| (m.clone(), None))
            .collect::<Vec<_>>(),
    )?;
    let (lease_tx, lease_rx) = std::sync::mpsc::channel::<String>();
    spawn_lease_writer(&settings, lease_rx)?;
    let routing = crate::settings::router::router(
        &settings.config,
        &settings.config_path.display().to_string(),
    )?;
    for w in &routing.warnings {
        tracing::warn!("{w}");
    }
    let (router, timeouts) = (routing.settings, routing.timeouts);
    if let Some(p) = &settings.config.default_profile
        && !profiles.contains_key(p)
    {
        return Err(CliError::usage(format!(
            "{}: default_profile '{p}' is not a profile",
            settings.config_path.display()
        )));
    }
    // The price table `agent-shim prices update` wrote, else the built-in snapshot; a file that
    // cannot be read is named in a warning and the built-in prices are used.
    let prices = ledger::prices::PriceBook::load(&settings.state_dir).unwrap_or_else(|e| {
        tracing::warn!("{}; using the built-in prices", e.0);
        ledger::prices::PriceBook::embedded()
    });
    // A table read from the state dir is parsed already. The built-in one is parsed on a thread
    // of its own now (~14 ms of CPU, ~2 MiB): not on the thread that starts serving, and not by
    // the first priced request, which would stall every stream on its worker meanwhile.
    if !prices.is_embedded() {
        tracing::info!(
            "prices: {} ({} models, {})",
            prices.version(),
            prices.len(),
            prices.source()
        );
    } else {
        let warm = prices.clone();
        let parsed = std::thread::Builder::new()
            .name("prices".into())
            .spawn(move || read_builtin_prices(&warm));
        if let Err(e) = parsed {
            tracing::warn!(
                "cannot start the thread that reads the price table ({e}): the first priced request reads it"
            );
        }
    }
    // claude-code runs (and their sessions) live in the gateway's own directory.
    gateway::set_claude_code_dir(settings.state_dir.join("claude-code"));
    // The usage ledger: the request path queues records, a writer task stores them.
    let ledger_settings = settings.ledger()?;
    for w in &ledger_settings.warnings {
        tracing::warn!("{w}");
    }
    // `disable_spend_logs: true`: no queue, so no record is kept (the metrics still count).
    let (ledger_tx, ledger_rx) = if ledger_settings.disabled {
        tracing::info!("usage ledger off (general_settings.disable_spend_logs)");
        (None, None)
    } else {
        if let Some(cap) = ledger_settings.body_capture {
            tracing::info!(
                "usage ledger: capturing request and response bodies up to {cap} bytes each, \
                 kept {} days (general_settings.store_prompts_in_spend_logs)",
                ledger_settings.body_retention_days
            );
        }
        let (tx, rx) = ledger::channel(LEDGER_QUEUE);
        (Some(tx), Some(rx))
    };
    let mut config = GatewayConfig {
        models,
        profiles,
        default_profile: settings.config.default_profile.clone(),
        model_group_alias: settings
            .config
            .model_group_alias
            .clone()
            .into_iter()
            .collect(),
        registered: Registered::Only(registered),
        lease_sink: Some(Arc::new(ChannelLeases(std::sync::Mutex::new(lease_tx)))),
        master_key: Some(master_key),
        secrets: Arc::new(litellm::ConfigVariables::new(
            &settings.config.environment_variables,
            FileSecrets::new(settings.secrets_path()),
        )),
        router,
        timeouts,
        // The proxy variables, read once here.
        upstream_proxy: gateway::UpstreamProxy::from_env(),
        max_request_body: settings.max_request_body(),
        instance: gateway::Instance {
            id: settings.instance_id(),
            // Shown by /health only where just this machine can ask.
            state_dir: settings
                .host
                .is_loopback()
                .then(|| settings.state_dir.display().to_string()),
            uid: Some(rustix::process::getuid().as_raw()),
        },
        source: Some(Arc::new(FilesSource::new(
            &settings,
            &args.net,
            args.config.as_deref(),
        ))),
        ledger: gateway::Ledger {
            sender: ledger_tx,
            prices: Arc::new(prices),
            body_capture: ledger_settings.body_capture,
            ..Default::default()
        },
        shared: None,
    };
    let addr = SocketAddr::new(settings.host, settings.port);
    let state_dir = settings.state_dir.clone();
    let interval = settings.janitor_interval();
    let workers = args
        .workers
        .map_or_else(gateway::default_workers, usize::from);
    // This runtime accepts connections and runs the janitor; requests run on the workers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let writer = match ledger_rx {
            Some(rx) => {
                let store = open_ledger(&ledger_settings, &state_dir).await?;
                config.ledger.store = Some(store.clone());
                let options = ledger::store::WriterOptions {
                    retention_days: ledger_settings.retention_days,
                    body_retention_days: Some(ledger_settings.body_retention_days),
                    ..Default::default()
                };
                Some(ledger::store::spawn_writer(store, rx, options))
            }
            None => None,
        };
        config.shared = shared_state(&settings, &ledger_settings, config.master_key.as_ref()).await?;
        let gw = Gateway::bind(addr, config).await.map_err(|e| match e {
            // A configuration the user must change: exit code 2.
            gateway::StartError::NoKeyOnPublicAddress(_) => CliError::usage(e.to_string()),
            gateway::StartError::Bind { .. } => CliError::failed(e.to_string()),
        })?;
        for e in &gw.definition_errors {
            if builtin.contains(&e.model_name) {
                tracing::info!("not serving built-in {e}");
            } else {
                tracing::warn!("not serving {e}");
            }
        }
        tokio::spawn(janitor_timer(gw.handle(), state_dir, interval));
        config_watch::watch(&settings, gw.handle());
        tokio::spawn(config_watch::reload_on_sighup(gw.handle()));
        tracing::info!(%addr, config = %settings.config_path.display(), "agent-shim gateway listening on http://{addr}");
        let served = gw
            .serve_workers(workers, shutdown_signal())
            .await
            .map_err(|e| CliError::failed(format!("the gateway stopped: {e}")));
        // The requests are finished: write their records before exiting.
        let dropped = match writer {
            Some(w) => w.shutdown(LEDGER_FLUSH).await,
            None => 0,
        };
        if dropped > 0 {
            tracing::warn!("usage ledger: {dropped} records were dropped while the gateway ran");
        }
        served
    })?;
    tracing::info!("agent-shim gateway stopped");
    Ok(ExitCode::SUCCESS)
}

/// Records the request path may queue for the ledger's writer before it drops (and counts) them.
const LEDGER_QUEUE: usize = 10_000;
/// How long a stopping gateway keeps trying to write the ledger's pending records.
const LEDGER_FLUSH: Duration = Duration::from_secs(10);

/// Opens the ledger's store. A PostgreSQL database that cannot be reached at start does not
/// stop the gateway: it starts with a store that connects when it can (records are held, and
/// beyond the backlog dropped and counted). Any other problem is an error.
async fn open_ledger(
    ls: &crate::settings::ledger::LedgerSettings,
    state_dir: &std::path::Path,
) -> Result<Arc<dyn ledger::Store>> {
    match ledger::store::open(ls.url(), state_dir).await {
        Ok(store) => Ok(store),
        Err(e) if ls.url().is_some() => {
            tracing::warn!(
                "{e}; starting anyway: usage records are held and written once it is reachable"
            );
            ledger::store::open_deferred(ls.url(), state_dir)
                .await
                .map_err(|e| CliError::usage(e.to_string()))
        }
        Err(e) => Err(CliError::failed(e.to_string())),
    }
}

/// The state shared with the other gateway instances on a PostgreSQL `database_url` (or
/// LiteLLM's `general_settings.database_url`, as the ledger resolved it: `os.environ/NAME`
/// looked up), or `None` for SQLite. An unreachable database is not an error (a warning; the
/// instance serves alone until it is back).
async fn shared_state(
    settings: &Settings,
    ls: &crate::settings::ledger::LedgerSettings,
    master_key: Option<&gateway::SecretString>,
) -> Result<Option<Arc<ledger::shared::Shared>>> {
    let Some(url) = ls.url().filter(|u| ledger::store::is_postgres(u)) else {
        return Ok(None);
    };
    let shared = ledger::shared::Shared::connect(url, master_key.map(|k| k.expose()))
        .await
        .map_err(|e| CliError::usage(format!("{}: {e}", settings.config_path.display())))?;
    Ok(Some(Arc::new(shared)))
}

/// Logs go to stderr through a writer thread, so a request never waits on a write (the log is a
/// file for the background gateway); see [`crate::log_writer`]. The returned guard writes what
/// is pending when dropped.
fn init_logging(settings: &Settings) -> log_writer::FlushGuard {
    let (writer, guard) = log_writer::start(std::io::stderr());
    let filter = std::env::var(env_vars::LOG)
        .ok()
        .or_else(|| settings.config.log_level.clone())
        .unwrap_or_else(|| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // yup-oauth2 logs token requests and answers (a signed assertion, an access token) at
    // debug level: never below warn, whatever the filter says.
    let filter = match "yup_oauth2=warn".parse() {
        Ok(d) => filter.add_directive(d),
        Err(_) => filter,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer)
        .try_init();
    guard
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Hands model names used without registration to the writer thread (never blocks a request).
struct ChannelLeases(std::sync::Mutex<std::sync::mpsc::Sender<String>>);

impl LeaseSink for ChannelLeases {
    fn leased(&self, model_name: &str) {
        let tx = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = tx.send(model_name.to_owned());
    }
}

/// Records leases in the state database, off the request path.
fn spawn_lease_writer(
    settings: &Settings,
    rx: std::sync::mpsc::Receiver<String>,
) -> crate::error::Result<()> {
    let dir = settings.state_dir.clone();
    let lease = settings.lease();
    std::thread::Builder::new()
        .name("lease-writer".into())
        .spawn(move || {
            let mut db = match StateDb::open(&dir) {
                Ok(db) => db,
                Err(e) => {
                    tracing::error!("leases will not be recorded: {e}");
                    return;
                }
            };
            for name in rx {
                match db.lease(&name, now_ms(), lease) {
                    Ok(()) => tracing::info!(model = %name, "model leased on first use"),
                    Err(e) => tracing::warn!("cannot lease {name}: {e}"),
                }
            }
        })
        .map(|_| ())
        .map_err(|e| CliError::failed(format!("cannot start the lease writer: {e}")))
}

/// Runs the janitor every `interval` and unregisters what it releases.
async fn janitor_timer(state: gateway::Handle, dir: std::path::PathBuf, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let dir = dir.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut db = StateDb::open(&dir)?;
            db.janitor(now_ms(), interval, false)
        })
        .await;
        match removed {
            Ok(Ok(Some(rows))) => {
                for row in rows {
                    if state.unregister(&row.model_name) {
                        tracing::info!(model = %row.model_name, "lease expired; model unregistered");
                    }
                }
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::warn!("janitor: {e}"),
            Err(e) => tracing::warn!("janitor: {e}"),
        }
    }
}

/// Parses the built-in price table (its first read does) and logs it. The read comes first: a
/// disabled `info!` does not evaluate its arguments, so at `AGENT_SHIM_LOG=warn` a count read
/// inside it left the parse to the first priced request, on a serving thread.
fn read_builtin_prices(prices: &ledger::prices::PriceBook) {
    let models = prices.len();
    tracing::info!("prices: {} ({models} models, built in)", prices.version());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the warm-up's count was an argument of `info!`, which is not evaluated when
    /// `info` is off (here: no subscriber at all).
    #[test]
    fn the_builtin_price_table_is_parsed_by_the_warm_up_at_any_log_level() {
        let book = ledger::prices::PriceBook::embedded();
        read_builtin_prices(&book);
        assert!(book.is_parsed());
    }
}
