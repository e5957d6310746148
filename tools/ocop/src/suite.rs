//! Running, migrating and seeding the whole suite from one process.

use std::sync::Arc;

use ocop_kit::auth::{Principal, Role};
use ocop_kit::config::{Config, ServiceName};
use ocop_kit::server::{self, Listeners, ServiceSpec};
use ocop_kit::telemetry::Telemetry;
use tokio::sync::watch;

/// The spec and routes of one service.
fn service(name: ServiceName) -> (ServiceSpec, ocop_kit::server::Build) {
    match name {
        ServiceName::Registry => (ocop_registry::spec(), ocop_registry::routes),
        ServiceName::Evaluation => (ocop_evaluation::spec(), ocop_evaluation::routes),
        ServiceName::Certification => (ocop_certification::spec(), ocop_certification::routes),
        ServiceName::Promotion => (ocop_promotion::spec(), ocop_promotion::routes),
    }
}

/// Serves the chosen services (all when `only` is empty) until SIGTERM or Ctrl-C.
/// They share nothing but the process: each has its own pool, ports and
/// schema, and they call each other over gRPC as separate processes would.
pub(crate) async fn up(config: Config, only: Vec<ServiceName>) -> anyhow::Result<()> {
    let telemetry = Telemetry::init("ocop", &config.telemetry, &config.deployment)?;
    let config = Arc::new(config);
    let names = if only.is_empty() {
        ServiceName::ALL.to_vec()
    } else {
        only
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for name in names {
        let endpoint = config.services.get(name);
        let listeners = Listeners::bind(endpoint).await.map_err(|e| {
            anyhow::anyhow!(
                "{name}: cannot listen on {} / {}: {e}",
                endpoint.grpc_listen,
                endpoint.http_listen
            )
        })?;
        let (grpc, http) = listeners.addrs()?;
        println!("{name:<14} grpc {grpc:<22} http http://{http}/metrics");
        let (spec, routes) = service(name);
        let mut stop = stop_rx.clone();
        let stopped = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        tasks.push(tokio::spawn(server::serve(
            spec,
            config.clone(),
            listeners,
            stopped,
            routes,
        )));
    }
    server::shutdown_signal().await;
    let _ = stop_tx.send(true);
    let mut result = Ok(());
    for task in tasks {
        if let Err(e) = task.await? {
            result = Err(e);
        }
    }
    telemetry.shutdown();
    result
}

/// Migrates every service's schema and loads its reference data.
pub(crate) async fn migrate(config: &Config) -> anyhow::Result<()> {
    for name in ServiceName::ALL {
        let (spec, _) = service(name);
        let pool = ocop_kit::db::connect_lazy(&config.database, name.as_str())?;
        ocop_kit::db::migrate(&pool, name.as_str(), spec.migrations)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: migration failed: {e:#}"))?;
        if let Some(prepare) = spec.prepare {
            prepare(pool.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{name}: loading reference data failed: {e:#}"))?;
        }
        pool.close().await;
        eprintln!("{name}: migrated");
    }
    Ok(())
}

/// The demo producers and products of Thanh Hóa (38), the local deployment's
/// default province. Imported by id, so seeding twice changes nothing.
const DEMO_CSV: &[u8] = include_bytes!("../data/demo-thanh-hoa.csv");

/// Migrates, then loads the demo data when the deployment plays Thanh Hóa.
pub(crate) async fn seed(config: &Config) -> anyhow::Result<()> {
    migrate(config).await?;
    let pool = ocop_kit::db::connect_lazy(&config.database, "registry")?;
    let counts: Vec<(i16, String, i64)> = sqlx::query_as(
        "SELECT scheme, level, count(*) FROM administrative_units GROUP BY scheme, level ORDER BY scheme DESC, min(level_rank)",
    )
    .fetch_all(&pool)
    .await?;
    for (scheme, level, count) in counts {
        eprintln!("registry: {count:>6} {level} units of the {scheme} list");
    }
    if config.deployment.province_code.as_deref() != Some("38") {
        eprintln!("registry: the demo producers are in Thanh Hóa (38); this deployment is not, so none were loaded");
        return Ok(());
    }
    let cache = ocop_kit::cache::Cache::new(&config.redis, "registry")?;
    let units = ocop_registry::units::Units::new(pool.clone(), cache);
    let seeder = Principal {
        subject: "ocop-seed".into(),
        role: Role::ProvinceOfficer,
        province: Some("38".into()),
        commune: None,
    };
    let report = ocop_registry::csv_exchange::import(
        &pool,
        &units,
        &ocop_kit::jurisdiction::Jurisdiction::of(&config.deployment),
        &seeder,
        DEMO_CSV,
        false,
        "",
    )
    .await
    .map_err(|e| anyhow::anyhow!("demo data: {e}"))?;
    eprintln!(
        "registry: demo data: {} producers created ({} already there), {} products created",
        report.subjects_created, report.subjects_unchanged, report.products_created
    );
    Ok(())
}

/// `ocop criteria import FILE`: checks and stores one criteria sheet.
pub(crate) async fn import_criteria(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let json = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let pool = ocop_kit::db::connect_lazy(&config.database, "evaluation")?;
    ocop_kit::db::migrate(&pool, "evaluation", &ocop_evaluation::MIGRATIONS).await?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match ocop_evaluation::criteria::store(&pool, &name, &json).await {
        Ok(stored) => {
            eprintln!("{stored:?}");
            Ok(())
        }
        Err(problems) => {
            for p in &problems {
                eprintln!("  {p}");
            }
            Err(anyhow::anyhow!(
                "{} problem(s); the sheet was not stored",
                problems.len()
            ))
        }
    }
}
