//! Client-side balancing over a service's replicas (see
//! [`crate::config::BalanceConfig`]).
//!
//! A task resolves the configured URLs' hosts every `refresh_ms`, asks each
//! address's health service whether it is SERVING, and keeps tonic's
//! balanced channel holding exactly the healthy ones. tonic alone would keep
//! sending calls to a replica that is gone or draining, so eviction by
//! health check is the point. When no replica answers SERVING, every
//! resolved address stays in: calls then fail fast with the transport's
//! error instead of waiting for a replica that may never come.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::config::{BalanceConfig, PeerTls};

/// How long a replica has to answer its health check.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A channel spreading calls over the replicas of the service at `url` and
/// `balance.replicas`. Must be called inside a Tokio runtime: it spawns the
/// task that keeps the set current, which ends when the channel is dropped.
pub(super) fn balanced(url: &str, balance: &BalanceConfig, tls: &PeerTls) -> anyhow::Result<Channel> {
    let targets = std::iter::once(url)
        .chain(balance.replicas.iter().map(String::as_str))
        .map(Target::parse)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (channel, changes) = Channel::balance_channel::<SocketAddr>(64);
    let refresh = Duration::from_millis(balance.refresh_ms);
    tokio::spawn(keep_current(targets, changes, refresh, tls.clone()));
    Ok(channel)
}

/// One configured URL: what to resolve and how to dial each address.
#[derive(Debug, Clone)]
struct Target {
    scheme: String,
    host: String,
    port: u16,
    origin: http::Uri,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let origin: http::Uri = url.parse()?;
        let scheme = origin.scheme_str().unwrap_or("http").to_owned();
        let host = origin
            .host()
            .ok_or_else(|| anyhow::anyhow!("{url} has no host"))?
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let port = origin.port_u16().unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(Target {
            scheme,
            host,
            port,
            origin,
        })
    }

    /// The endpoint of one of its addresses, speaking to it by the URL's name.
    /// Over TLS the address's certificate must carry the URL's host.
    fn endpoint(&self, addr: SocketAddr, tls: &PeerTls) -> anyhow::Result<Endpoint> {
        let tls = PeerTls {
            server_name: tls.server_name.clone().or_else(|| Some(self.host.clone())),
            ..tls.clone()
        };
        let endpoint = super::endpoint(&format!("{}://{addr}", self.scheme), &tls)?;
        Ok(endpoint.origin(self.origin.clone()))
    }
}

/// The replicas known to the balancer, by address.
struct Replica {
    endpoint: Endpoint,
    health: HealthClient<Channel>,
}

async fn keep_current(
    targets: Vec<Target>,
    changes: Sender<Change<SocketAddr, Endpoint>>,
    refresh: Duration,
    tls: PeerTls,
) {
    let mut known: HashMap<SocketAddr, Replica> = HashMap::new();
    let mut inserted: BTreeSet<SocketAddr> = BTreeSet::new();
    let mut first = true;
    loop {
        let resolved = resolve(&targets, &tls).await;
        if resolved.is_empty() && !known.is_empty() {
            // A resolver that fails for a moment (or a headless Service whose pods are all
            // unready at once) must not empty the set: calls would wait on no replica.
            tracing::warn!("no replica address resolved; keeping the last known ones");
        } else {
            known.retain(|addr, _| resolved.contains_key(addr));
            for (addr, endpoint) in resolved {
                known.entry(addr).or_insert_with(|| Replica {
                    health: HealthClient::new(endpoint.connect_lazy()),
                    endpoint,
                });
            }
        }
        // The first round lets calls start at once; checks follow.
        let healthy: BTreeSet<SocketAddr> = if first {
            known.keys().copied().collect()
        } else {
            healthy(&known).await
        };
        first = false;
        let wanted = if healthy.is_empty() {
            known.keys().copied().collect()
        } else {
            healthy
        };
        for gone in inserted.difference(&wanted) {
            tracing::info!(replica = %gone, "replica left the balanced set");
            if changes.send(Change::Remove(*gone)).await.is_err() {
                return;
            }
        }
        for new in wanted.difference(&inserted) {
            tracing::info!(replica = %new, "replica joined the balanced set");
            let endpoint = known[new].endpoint.clone();
            if changes.send(Change::Insert(*new, endpoint)).await.is_err() {
                return;
            }
        }
        inserted = wanted;
        tokio::select! {
            _ = tokio::time::sleep(refresh) => {}
            // The channel was dropped: nothing is left to balance.
            _ = changes.closed() => return,
        }
    }
}

/// Every address the targets' hosts resolve to now. A host that does not
/// resolve contributes nothing this round (and is logged).
async fn resolve(targets: &[Target], tls: &PeerTls) -> HashMap<SocketAddr, Endpoint> {
    let mut resolved = HashMap::new();
    for target in targets {
        match tokio::net::lookup_host((target.host.as_str(), target.port)).await {
            Ok(addrs) => {
                for addr in addrs {
                    match target.endpoint(addr, tls) {
                        Ok(endpoint) => {
                            resolved.insert(addr, endpoint);
                        }
                        Err(e) => tracing::warn!(%addr, error = %e, "replica address unusable"),
                    }
                }
            }
            Err(e) => tracing::warn!(host = %target.host, error = %e, "replicas' host did not resolve"),
        }
    }
    resolved
}

/// The replicas whose health service answers SERVING, checked together.
async fn healthy(known: &HashMap<SocketAddr, Replica>) -> BTreeSet<SocketAddr> {
    let mut checks = tokio::task::JoinSet::new();
    for (addr, replica) in known {
        let (addr, mut health) = (*addr, replica.health.clone());
        checks.spawn(async move {
            let answer = tokio::time::timeout(PROBE_TIMEOUT, health.check(HealthCheckRequest::default())).await;
            let serving = matches!(answer, Ok(Ok(r)) if r.get_ref().status() == ServingStatus::Serving);
            serving.then_some(addr)
        });
    }
    let mut serving = BTreeSet::new();
    while let Some(done) = checks.join_next().await {
        serving.extend(done.ok().flatten());
    }
    serving
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_keeps_its_scheme_host_and_port() {
        let t = Target::parse("http://registry.ocop-38.svc.cluster.local:50051").unwrap();
        assert_eq!(
            (t.scheme.as_str(), t.host.as_str(), t.port),
            ("http", "registry.ocop-38.svc.cluster.local", 50051)
        );
        let t = Target::parse("https://[::1]").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 443));
        assert!(Target::parse("http://").is_err());
    }

    #[tokio::test]
    async fn a_host_name_resolves_to_its_addresses() {
        let targets = [
            Target::parse("http://localhost:50051").unwrap(),
            Target::parse("http://127.0.0.2:7").unwrap(),
        ];
        let resolved = resolve(&targets, &PeerTls::default()).await;
        assert!(
            resolved.contains_key(&"127.0.0.1:50051".parse().unwrap()),
            "{:?}",
            resolved.keys()
        );
        assert!(resolved.contains_key(&"127.0.0.2:7".parse().unwrap()));
        let endpoint = &resolved[&"127.0.0.2:7".parse().unwrap()];
        assert_eq!(endpoint.uri().to_string(), "http://127.0.0.2:7/");
    }
}
