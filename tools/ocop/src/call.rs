//! A small client for trying the services without grpcurl.

use clap::{Subcommand, ValueEnum};
use ocop_kit::auth::Signer;
use ocop_kit::config::{Config, ServiceName};
use ocop_proto::audit::v1::ListAuditEventsRequest as AuditRequest;
use ocop_proto::audit::v1::audit_service_client::AuditServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::*;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

/// Calls the CLI can make.
#[derive(Subcommand)]
pub(crate) enum Call {
    /// registry.GetAdministrativeUnit, e.g. `administrativeUnits/2025-38`.
    GetUnit {
        /// Resource name.
        name: String,
    },
    /// registry.ListAdministrativeUnits.
    ListUnits {
        /// AIP-160 filter, e.g. `level = province AND scheme = 2025`.
        #[arg(long, default_value = "")]
        filter: String,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Page token from a previous call.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// registry.ResolveAdministrativeUnit: any old or new code to today's unit.
    ResolveUnit {
        /// Province, district or commune code.
        code: String,
    },
    /// registry.SearchProducts: words of a product's name, diacritics optional.
    SearchProducts {
        /// E.g. "mat ong nhu xuan".
        query: String,
    },
    /// registry.GetSubject.
    GetSubject {
        /// `subjects/{id}`.
        name: String,
    },
    /// audit.ListAuditEvents: one service's audit log, newest first. Needs the
    /// TOKEN of a province officer (their province) or a national officer.
    ListAuditEvents {
        /// Whose log.
        #[arg(long, value_enum)]
        service: Service,
        /// Fields `resource`, `actor`, `method`, `province_code`, e.g.
        /// `method = IssueCertificate AND province_code = "38"`.
        #[arg(long, default_value = "")]
        filter: String,
        /// Page size (at most 500).
        #[arg(long, default_value_t = 50)]
        page_size: i32,
        /// Page token from a previous call.
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// The steps of Decision 26/2026's procedure (evaluation and certification).
    #[command(flatten)]
    Procedure(crate::call_2026::Procedure),
}

/// One of the four services, by name.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Service {
    /// The registry.
    Registry,
    /// The evaluation service.
    Evaluation,
    /// The certification service.
    Certification,
    /// The promotion service.
    Promotion,
}

impl Service {
    fn name(self) -> ServiceName {
        match self {
            Service::Registry => ServiceName::Registry,
            Service::Evaluation => ServiceName::Evaluation,
            Service::Certification => ServiceName::Certification,
            Service::Promotion => ServiceName::Promotion,
        }
    }
}

/// Prints the health of each service.
pub(crate) async fn health(config: &Config) -> anyhow::Result<()> {
    let mut all_serving = true;
    for name in ServiceName::ALL {
        let url = &config.services.get(name).url;
        let status = match Channel::from_shared(url.clone())?.connect().await {
            Ok(channel) => match HealthClient::new(channel)
                .check(HealthCheckRequest { service: String::new() })
                .await
            {
                Ok(r) => format!("{:?}", r.into_inner().status()),
                Err(e) => format!("error: {}", e.message()),
            },
            Err(e) => format!("unreachable: {e}"),
        };
        all_serving &= status == "Serving";
        crate::out::line(format_args!("{name:<14} {url:<28} {status}"))?;
    }
    if all_serving {
        Ok(())
    } else {
        Err(anyhow::anyhow!("not every service is serving"))
    }
}

/// Makes one call and prints the response as JSON-like debug text.
pub(crate) async fn run(config: &Config, call: Call) -> anyhow::Result<()> {
    let token = match std::env::var("TOKEN") {
        Ok(t) if !t.is_empty() => t,
        _ => Signer::from_config(&config.auth)?.issue("ocop-cli", "service", None, None, 300)?,
    };
    let mut registry = RegistryServiceClient::new(ocop_kit::client::channel(
        &config.services.registry.url,
        &config.services.registry.tls,
        Some(&token),
    )?);
    let result = match call {
        Call::Procedure(call) => crate::call_2026::run(config, &token, call).await,
        Call::ListAuditEvents {
            service,
            filter,
            page_size,
            page_token,
        } => {
            let endpoint = config.services.get(service.name());
            AuditServiceClient::new(ocop_kit::client::channel(&endpoint.url, &endpoint.tls, Some(&token))?)
                .list_audit_events(AuditRequest {
                    page_size,
                    page_token,
                    filter,
                })
                .await
                .map(|r| format!("{:#?}", r.into_inner()))
        }
        Call::GetUnit { name } => registry
            .get_administrative_unit(GetAdministrativeUnitRequest { name })
            .await
            .map(|r| format!("{:#?}", r.into_inner())),
        Call::ListUnits {
            filter,
            page_size,
            page_token,
        } => registry
            .list_administrative_units(ListAdministrativeUnitsRequest {
                page_size,
                page_token,
                filter,
            })
            .await
            .map(|r| format!("{:#?}", r.into_inner())),
        Call::ResolveUnit { code } => registry
            .resolve_administrative_unit(ResolveAdministrativeUnitRequest {
                code,
                ..Default::default()
            })
            .await
            .map(|r| format!("{:#?}", r.into_inner())),
        Call::SearchProducts { query } => registry
            .search_products(SearchProductsRequest {
                query,
                ..Default::default()
            })
            .await
            .map(|r| format!("{:#?}", r.into_inner())),
        Call::GetSubject { name } => registry
            .get_subject(GetSubjectRequest { name })
            .await
            .map(|r| format!("{:#?}", r.into_inner())),
    };
    match result {
        Ok(text) => crate::out::line(text),
        Err(status) => Err(anyhow::anyhow!("{:?}: {}", status.code(), status.message())),
    }
}
