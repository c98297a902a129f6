//! `agent-shim serve`: the gateway in the foreground, with every model definition (built-in,
//! models.yaml, config.yaml `model_list`) and every profile's tiers. Holds the pid file while it
//! runs; stops on SIGTERM or Ctrl-C after in-flight requests finish.

use crate::cli::ServeArgs;
use crate::daemon::PidLock;
use crate::error::{CliError, Result};
use crate::settings::secrets::FileSecrets;
use crate::settings::{Settings, catalog, env_vars};
use gateway::{Gateway, GatewayConfig, RouterSettings, Timeouts};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    let settings = Settings::load(&args.net, args.config.as_deref())?;
    init_logging(&settings);
    let models: Vec<_> = catalog::load_models(&settings)?
        .into_iter()
        .map(|m| m.item)
        .collect();
    let profiles: HashMap<String, gateway::Tiers> = catalog::load_profiles(&settings)?
        .into_iter()
        .map(|(name, p)| (name, p.item.tiers()))
        .collect();
    let master_key = settings.master_key()?;
    let _lock = PidLock::acquire(&settings)?;
    let mut router = RouterSettings::default();
    let mut timeouts = Timeouts::default();
    if let Some(r) = &settings.config.router_settings {
        router.num_retries = r.num_retries.unwrap_or(router.num_retries);
        if let Some(t) = r.timeout {
            timeouts.first_byte = Duration::from_secs_f64(t.max(1.0));
        }
        if let Some(t) = r.stream_timeout {
            timeouts.idle = Duration::from_secs_f64(t.max(1.0));
        }
    }
    if let Some(p) = &settings.config.default_profile
        && !profiles.contains_key(p)
    {
        return Err(CliError::usage(format!(
            "{}: default_profile '{p}' is not a profile",
            settings.config_path.display()
        )));
    }
    let config = GatewayConfig {
        models,
        profiles,
        default_profile: settings.config.default_profile.clone(),
        master_key: Some(master_key),
        secrets: Arc::new(FileSecrets::new(settings.secrets_path())),
        router,
        timeouts,
    };
    let addr = SocketAddr::new(settings.host, settings.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let gw = Gateway::bind(addr, config).await.map_err(|e| CliError::failed(e.to_string()))?;
        for e in &gw.definition_errors {
            tracing::warn!("not serving {e}");
        }
        tracing::info!(%addr, config = %settings.config_path.display(), "agent-shim gateway listening on http://{addr}");
        gw.serve(shutdown_signal())
            .await
            .map_err(|e| CliError::failed(format!("the gateway stopped: {e}")))
    })?;
    tracing::info!("agent-shim gateway stopped");
    Ok(ExitCode::SUCCESS)
}

fn init_logging(settings: &Settings) {
    let filter = std::env::var(env_vars::LOG)
        .ok()
        .or_else(|| settings.config.log_level.clone())
        .unwrap_or_else(|| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .try_init();
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
