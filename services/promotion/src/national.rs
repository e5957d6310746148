//! What the national deployment adds: the national catalog and statistics,
//! fed by every province's certification and registry feeds, followed
//! directly with the tokens the provinces issued (and their lag shown).

use ocop_kit::config::DeploymentRole;
use ocop_kit::follow::with_token_file;
use ocop_kit::server::{BoxFuture, Context};

use crate::feeds::follow;

/// The followers of every province's feeds; none outside the national deployment.
pub fn followers(context: &Context) -> Vec<BoxFuture<'static, ()>> {
    let config = &context.config;
    if config.deployment.role != DeploymentRole::National {
        return Vec::new();
    }
    let mut tasks = Vec::new();
    for peer in &config.federation.provinces {
        for (service, url) in [
            ("certification", &peer.certification_url),
            ("registry", &peer.registry_url),
        ] {
            let connect = with_token_file(url.clone(), peer.tls.clone(), peer.token_path.clone());
            tasks.push(follow(peer.source(service), connect, context));
        }
    }
    tasks
}
