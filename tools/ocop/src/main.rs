//! `ocop`: the command line of the OCOP platform.

mod call;
mod call_2026;
mod csv_files;
mod deploy;
mod merger;
mod out;
mod province_file;
mod suite;

use clap::{Parser, Subcommand};
use ocop_kit::auth::{Role, Signer, ensure_key_files};
use ocop_kit::cli::ConfigArgs;
use ocop_kit::config::ServiceName;

#[derive(Parser)]
#[command(
    version,
    about = "The OCOP platform's command line. Configuration: defaults < --config file < OCOP_* environment < flags."
)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the services in this process, each on its own ports; Ctrl-C stops them.
    Up {
        /// Only these services (comma-separated); default all four.
        #[arg(long, value_delimiter = ',', value_parser = ocop_kit::cli::parse_service)]
        only: Vec<ServiceName>,
    },
    /// Apply every service's migrations and reference data, then exit.
    Migrate,
    /// Load the demo data of a local deployment (idempotent).
    Seed,
    /// Create the local signing key and JWKS if they do not exist.
    Keys,
    /// Print a signed bearer token: by default one this deployment accepts;
    /// with --audience, a service token for the deployment that is that audience
    /// (a follower's federation token), signed with this deployment's key.
    Token {
        /// commune_officer, province_officer, council_member, national_officer or service.
        #[arg(long)]
        role: Role,
        /// Province code of the jurisdiction (required for officers).
        #[arg(long)]
        province: Option<String>,
        /// Commune code of the jurisdiction (required for commune officers).
        #[arg(long)]
        commune: Option<String>,
        /// Who the token is for.
        #[arg(long, default_value = "local-user")]
        subject: String,
        /// The `aud` claim; default `auth.audience` (this deployment's).
        #[arg(long)]
        audience: Option<String>,
        /// Lifetime in seconds; default `auth.token_ttl_s`, at most `auth.max_token_lifetime_s`.
        #[arg(long)]
        ttl_s: Option<u64>,
    },
    /// Health of every service.
    Health,
    /// Call a service (uses $TOKEN, or issues a local service token).
    Call {
        #[command(subcommand)]
        call: call::Call,
    },
    /// Import producers and products from CSV (all or nothing; format in the README).
    Import {
        /// What to import.
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Criteria sheets of the evaluation service.
    Criteria {
        /// What to do.
        #[command(subcommand)]
        what: CriteriaWhat,
    },
    /// Write this province's whole dataset (every service, the audit logs,
    /// the signing keys marked retired) to one checked file, for a merger.
    ExportProvince {
        /// The file to write.
        file: std::path::PathBuf,
    },
    /// Load a file of `export-province` into this deployment: checked first,
    /// units mapped to today's, names kept; the same file twice changes nothing.
    ImportProvince {
        /// The file to read.
        file: std::path::PathBuf,
    },
    /// Write the generated Kubernetes manifests under deploy/k8s (an overlay per
    /// province of the registry's unit list, the national one, the base services).
    DeployOverlays {
        /// Only report the files that are out of date (exit 1 if any).
        #[arg(long)]
        check: bool,
        /// The deploy/k8s directory.
        #[arg(long, default_value = "deploy/k8s")]
        root: std::path::PathBuf,
    },
    /// Export producers and products to CSV, in the import format.
    Export {
        /// What to export.
        #[command(subcommand)]
        what: ExportWhat,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// One row per product; uses $TOKEN or a local officer token of the deployment's province.
    SubjectsProducts {
        /// The CSV file.
        file: std::path::PathBuf,
        /// Check the file, write nothing.
        #[arg(long)]
        validate_only: bool,
    },
}

#[derive(Subcommand)]
enum CriteriaWhat {
    /// Check a sheet (JSON, the shape of services/evaluation/data/criteria) and store it:
    /// a new product set, an unchanged one, or a new version when the current one was used.
    Import {
        /// The JSON file.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum ExportWhat {
    /// One row per product.
    SubjectsProducts {
        /// The CSV file to write.
        file: std::path::PathBuf,
        /// Province code (2025); default: the token's province.
        #[arg(long)]
        province: Option<String>,
    },
}

#[global_allocator]
static ALLOCATOR: ocop_kit::Allocator = ocop_kit::Allocator;

fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.load_or_exit(serde_json::json!({}));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Command::Up { only } => runtime.block_on(suite::up(config, only)),
        Command::Migrate => runtime.block_on(suite::migrate(&config)),
        Command::ExportProvince { file } => runtime.block_on(merger::export(&config, &file)),
        Command::ImportProvince { file } => runtime.block_on(merger::import(&config, &file)),
        Command::Seed => runtime.block_on(suite::seed(&config)),
        Command::Keys => {
            if ensure_key_files(&config.auth)? {
                eprintln!(
                    "created {} and {}",
                    config.auth.signing_key_path.display(),
                    config.auth.jwks_path.display()
                );
            }
            let path = &config.certification.signing_key_path;
            let existed = path.exists();
            let keys = ocop_certification::keys::Keys::load_or_create(path)?;
            if !existed {
                eprintln!("created {} (certificate signing key {})", path.display(), keys.key_id);
            }
            Ok(())
        }
        Command::Token {
            role,
            province,
            commune,
            subject,
            audience,
            ttl_s,
        } => {
            let ttl_s = ttl_s.unwrap_or(config.auth.token_ttl_s);
            let max = config.auth.max_token_lifetime_s;
            anyhow::ensure!(
                (1..=max).contains(&ttl_s),
                "--ttl-s {ttl_s}: must be between 1 and auth.max_token_lifetime_s ({max}); a longer-lived token would be refused"
            );
            let mut signer = Signer::from_config(&config.auth)?;
            if let Some(audience) = audience {
                anyhow::ensure!(!audience.trim().is_empty(), "--audience must not be empty");
                signer = signer.with_audience(&audience);
            }
            let token = signer.issue(
                &subject,
                role.as_str(),
                province.as_deref(),
                commune.as_deref(),
                ttl_s as i64,
            )?;
            out::line(token)
        }
        Command::DeployOverlays { check, root } => deploy::run(&root, check),
        Command::Health => runtime.block_on(call::health(&config)),
        Command::Call { call } => runtime.block_on(call::run(&config, call)),
        Command::Import {
            what: ImportWhat::SubjectsProducts { file, validate_only },
        } => runtime.block_on(csv_files::import(&config, &file, validate_only)),
        Command::Export {
            what: ExportWhat::SubjectsProducts { file, province },
        } => runtime.block_on(csv_files::export(&config, &file, province)),
        Command::Criteria {
            what: CriteriaWhat::Import { file },
        } => runtime.block_on(suite::import_criteria(&config, &file)),
    }
}
