//! `ocop import` / `ocop export`: a province's producers and products as CSV.

use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant};

use ocop_kit::auth::Signer;
use ocop_kit::config::Config;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{ExportSubjectsProductsRequest, ImportSubjectsProductsRequest};
use tonic_types::StatusExt;

/// Largest file the CLI sends or accepts (the server allows the same).
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// `$TOKEN`, or a local province-officer token for the deployment's province.
fn token(config: &Config) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("TOKEN")
        && !token.is_empty()
    {
        return Ok(token);
    }
    let province = config.deployment.province_code.as_deref();
    Signer::from_config(&config.auth)?.issue("ocop-cli", "province_officer", province, None, 600)
}

async fn client(config: &Config) -> anyhow::Result<RegistryServiceClient<ocop_kit::client::TracedChannel>> {
    let channel = ocop_kit::client::channel(
        &config.services.registry.url,
        &config.services.registry.tls,
        Some(&token(config)?),
    )?;
    Ok(RegistryServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// Shows elapsed time on a terminal while `work` runs.
async fn with_progress<T>(label: String, work: impl Future<Output = T>) -> T {
    let started = Instant::now();
    if !std::io::stderr().is_terminal() {
        return work.await;
    }
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            out = &mut work => {
                eprint!("\r\x1b[2K");
                return out;
            }
            _ = tick.tick() => eprint!("\r\x1b[2K{label} {:.1} s", started.elapsed().as_secs_f64()),
        }
    }
}

/// Imports `file` (all or nothing); prints every problem as `line column: problem`.
pub(crate) async fn import(config: &Config, file: &Path, validate_only: bool) -> anyhow::Result<()> {
    let csv = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let lines = csv.iter().filter(|b| **b == b'\n').count();
    let mut client = client(config).await?;
    let started = Instant::now();
    let request = ImportSubjectsProductsRequest {
        csv,
        validate_only,
        request_id: String::new(),
    };
    let verb = if validate_only { "checking" } else { "importing" };
    let result = with_progress(
        format!("{verb} {lines} rows of {}…", file.display()),
        client.import_subjects_products(request),
    )
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    match result {
        Ok(r) => {
            let r = r.into_inner();
            let done = if validate_only {
                "checked (nothing written)"
            } else {
                "imported"
            };
            eprintln!(
                "{} rows {done} in {elapsed:.2} s ({:.0} rows/s): {} producers created, {} unchanged, {} products created",
                r.rows,
                f64::from(r.rows) / elapsed.max(1e-3),
                r.subjects_created,
                r.subjects_unchanged,
                r.products_created
            );
            Ok(())
        }
        Err(status) => {
            eprintln!("{:?}: {}", status.code(), status.message());
            if let Some(bad) = status.get_details_bad_request() {
                for v in bad.field_violations {
                    eprintln!("  {}: {}", v.field, v.description);
                }
            }
            Err(anyhow::anyhow!("nothing was imported"))
        }
    }
}

/// Writes the export of `province` (default: the caller's) to `file`.
pub(crate) async fn export(config: &Config, file: &Path, province: Option<String>) -> anyhow::Result<()> {
    let mut client = client(config).await?;
    let started = Instant::now();
    let request = ExportSubjectsProductsRequest {
        province_code: province.unwrap_or_default(),
    };
    let response = with_progress("exporting…".into(), client.export_subjects_products(request))
        .await
        .map_err(|s| anyhow::anyhow!("{:?}: {}", s.code(), s.message()))?
        .into_inner();
    std::fs::write(file, &response.csv).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
    eprintln!(
        "{} rows written to {} in {:.2} s",
        response.rows,
        file.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
