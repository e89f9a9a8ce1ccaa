//! The `owl` command: serve, run workers, migrate, manage dead jobs, and check the configuration.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use owl_migration::{Migrator, MigratorTrait};
use owl_server::config::{Config, gather_variables};
use owl_server::{AppState, Overrides, run, store, telemetry};
use secrecy::ExposeSecret;

/// owl: a self-hosted health-data platform.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve gRPC, grpc-web and HTTP on one port (embedded SQLite unless a database is configured).
    Serve {
        /// Address to listen on [default: OWL_LISTEN or 0.0.0.0:8000].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Serve only the API; run jobs in separate `owl worker` processes (Redis or a shared
        /// database).
        #[arg(long)]
        no_worker: bool,
    },
    /// Run only background jobs and the sync scheduler, against the configured Redis (or
    /// database when no Redis is configured). Start as many as the load needs.
    Worker,
    /// Inspect and requeue dead jobs.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// Apply pending database migrations, or roll back the last ones.
    Migrate {
        /// Roll back this many migrations instead of applying.
        #[arg(long, value_name = "N")]
        rollback: Option<u32>,
    },
    /// Manage the encryption of provider tokens at rest.
    Encryption {
        #[command(subcommand)]
        command: EncryptionCommand,
    },
    /// Import files into a user's data through a running server's API.
    Import {
        #[command(subcommand)]
        command: owl_server::import_cli::ImportCommand,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List dead jobs (those that ran out of attempts), most recent first, with their errors.
    Dead {
        /// How many to list.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Move a dead job back into the queue with fresh attempts.
    Requeue {
        /// The job's id, as `owl jobs dead` prints it.
        id: uuid::Uuid,
    },
}

#[derive(Subcommand)]
enum EncryptionCommand {
    /// Re-encrypt every stored provider token under OWL_ENCRYPTION_KEY. Start every server with
    /// the new key in OWL_ENCRYPTION_KEY and the old one in OWL_ENCRYPTION_KEY_PREVIOUS, run
    /// this, then drop OWL_ENCRYPTION_KEY_PREVIOUS after 10 minutes (when the connect flows
    /// started under the old key have expired). Exits non-zero when a token opens under no key.
    Rotate,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (secrets redacted); exit non-zero naming every invalid variable.
    Check,
}

fn load() -> Result<Config, ExitCode> {
    let vars = gather_variables(std::path::Path::new("."));
    Config::load(&vars).map_err(|errors| {
        eprintln!("owl: invalid configuration:");
        for invalid in &errors.0 {
            eprintln!("  {}: {}", invalid.variable, invalid.problem);
        }
        ExitCode::from(2)
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // A client of a server: needs no configuration of its own.
    let command = match cli.command {
        Command::Import { command } => return owl_server::import_cli::main(command).await,
        command => command,
    };
    let config = match load() {
        Ok(config) => config,
        Err(code) => return code,
    };
    if let Command::Config {
        command: ConfigCommand::Check,
    } = command
    {
        for (key, value) in config.report() {
            println!("{key} = {value}");
        }
        println!("configuration is valid");
        return ExitCode::SUCCESS;
    }
    let _telemetry = telemetry::init(config.environment.json_logs(), &config.sentry);
    let result = match command {
        Command::Serve { listen, no_worker } => serve(config, listen, !no_worker).await,
        Command::Worker => worker(config).await,
        Command::Jobs { command } => jobs(config, command).await,
        Command::Migrate { rollback } => migrate(config, rollback).await,
        Command::Encryption {
            command: EncryptionCommand::Rotate,
        } => rotate(config).await,
        Command::Config { .. } | Command::Import { .. } => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "owl stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(
    mut config: Config,
    listen: Option<SocketAddr>,
    workers: bool,
) -> anyhow::Result<()> {
    // Before the state is built: the default public URL follows the listen port.
    if let Some(listen) = listen {
        config.listen = listen;
    }
    let state = AppState::from_config(&config, Overrides::default()).await?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let (stop, stopped) = tokio::sync::watch::channel(());
    let stop = std::sync::Arc::new(stop);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<()>| async move {
        let _ = rx.changed().await;
    };
    let background = workers.then(|| {
        let jobs = state.jobs.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move { jobs.run(until_stopped(stopped)).await })
    });
    let signalled = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = signalled.send(());
    });
    let served = run(state, listener, until_stopped(stopped)).await;
    // Also when serving failed: background work stops with the API.
    let _ = stop.send(());
    if let Some(background) = background {
        background.await?;
    }
    served
}

async fn worker(config: Config) -> anyhow::Result<()> {
    let state = AppState::from_config(&config, Overrides::default()).await?;
    state.jobs.run(shutdown_signal()).await;
    Ok(())
}

async fn jobs(config: Config, command: JobsCommand) -> anyhow::Result<()> {
    let state = AppState::from_config(&config, Overrides::default()).await?;
    match command {
        JobsCommand::Dead { limit } => {
            for dead in state.jobs.queue.dead_letters(limit).await? {
                println!(
                    "{}\t{}\tattempts={}\t{}",
                    dead.id, dead.kind, dead.attempts, dead.last_error
                );
            }
        }
        JobsCommand::Requeue { id } => {
            if !state.jobs.queue.requeue(id).await? {
                anyhow::bail!("no dead job {id}");
            }
            println!("requeued {id}");
        }
    }
    Ok(())
}

async fn rotate(config: Config) -> anyhow::Result<()> {
    let state = AppState::from_config(&config, Overrides::default()).await?;
    let done = owl_server::domain::connections::Connections(&state.ctx)
        .rotate_encryption()
        .await?;
    println!(
        "re-encrypted {} connections; {} already under the current key; {} unreadable",
        done.rewritten, done.current, done.unreadable
    );
    println!(
        "re-encrypted {} webhook items; {} already under the current key; {} unreadable",
        done.items.rewritten, done.items.current, done.items.unreadable
    );
    anyhow::ensure!(
        done.unreadable == 0 && done.items.unreadable == 0,
        "{} connections and {} webhook items are sealed under no configured key",
        done.unreadable,
        done.items.unreadable
    );
    Ok(())
}

async fn migrate(config: Config, rollback: Option<u32>) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = store::connect(config.database.url.expose_secret()).await?;
    match rollback {
        Some(steps) => Migrator::down(store.connection(), Some(steps)).await?,
        None => Migrator::up(store.connection(), None).await?,
    }
    tracing::info!("migrations done");
    Ok(())
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
