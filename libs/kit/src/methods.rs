//! The methods a service serves, by path: what metrics and span names are
//! labelled with. A path that is not one of them (a made-up method, another
//! service's) is labelled [`OTHER`], so no caller can grow the number of
//! series or span names by inventing paths.

/// The label of every path a service does not serve.
pub const OTHER: &str = "_OTHER";

/// Methods every service serves beside its own, the change feed and the audit log.
const COMMON: &[Method] = &[
    Method::new("/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check"),
    Method::new("/grpc.health.v1.Health/Watch", "grpc.health.v1.Health", "Watch"),
    Method::new(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
    ),
    Method::new(
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection",
        "ServerReflectionInfo",
    ),
];

/// The change feed every service serves.
const FEED: &str = "ocop.feed.v1.FeedService";

/// The audit log every service serves.
const AUDIT: &str = "ocop.audit.v1.AuditService";

/// One served method: its path and the two names OpenTelemetry's RPC
/// conventions label it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// `/pkg.Service/Method`.
    pub path: &'static str,
    /// `rpc.service`: the fully qualified service, `pkg.Service`.
    pub service: &'static str,
    /// `rpc.method`: the method's name.
    pub name: &'static str,
}

impl Method {
    const fn new(path: &'static str, service: &'static str, name: &'static str) -> Method {
        Method { path, service, name }
    }

    /// What a path that is not served is labelled with: [`OTHER`] for both names.
    pub const UNKNOWN: Method = Method::new("", OTHER, OTHER);
}

/// The paths one service serves, with their method names.
#[derive(Debug, Clone)]
pub struct Methods {
    /// Sorted by path, for a binary search per request.
    paths: Vec<Method>,
}

impl Methods {
    /// The methods of `grpc_service` (e.g. `ocop.registry.v1.RegistryService`),
    /// of the change feed, of the audit log, of health and of reflection.
    pub fn of(grpc_service: &str) -> Methods {
        let mut paths: Vec<_> = ocop_proto::boundary::METHODS
            .iter()
            .filter(|m| m.service == grpc_service || m.service == FEED || m.service == AUDIT)
            .map(|m| Method::new(m.path, m.service, m.name))
            .chain(COMMON.iter().copied())
            .collect();
        paths.sort_unstable_by_key(|m| m.path);
        Methods { paths }
    }

    /// The method served at `path`, or [`Method::UNKNOWN`].
    pub fn get(&self, path: &str) -> Method {
        match self.paths.binary_search_by(|m| m.path.cmp(path)) {
            Ok(i) => self.paths[i],
            Err(_) => Method::UNKNOWN,
        }
    }

    /// The method name of `path`, or [`OTHER`].
    pub fn name(&self, path: &str) -> &'static str {
        self.get(path).name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_served_paths_have_their_own_label() {
        let methods = Methods::of("ocop.registry.v1.RegistryService");
        assert_eq!(
            methods.name("/ocop.registry.v1.RegistryService/GetProduct"),
            "GetProduct"
        );
        assert_eq!(methods.name("/ocop.feed.v1.FeedService/WatchChanges"), "WatchChanges");
        assert_eq!(
            methods.name("/ocop.audit.v1.AuditService/ListAuditEvents"),
            "ListAuditEvents"
        );
        assert_eq!(methods.name("/grpc.health.v1.Health/Check"), "Check");
        assert_eq!(methods.name("/ocop.registry.v1.RegistryService/Made_Up_1"), OTHER);
        assert_eq!(
            methods.name("/ocop.evaluation.v1.EvaluationService/GetEvaluationRound"),
            OTHER
        );
        assert_eq!(methods.name("/"), OTHER);
    }

    #[test]
    fn a_served_method_carries_its_service() {
        let methods = Methods::of("ocop.registry.v1.RegistryService");
        let get = methods.get("/ocop.registry.v1.RegistryService/GetProduct");
        assert_eq!(
            (get.service, get.name),
            ("ocop.registry.v1.RegistryService", "GetProduct")
        );
        let watch = methods.get("/ocop.feed.v1.FeedService/WatchChanges");
        assert_eq!(watch.service, "ocop.feed.v1.FeedService");
        let made_up = methods.get("/ocop.registry.v1.RegistryService/Made_Up_1");
        assert_eq!((made_up.service, made_up.name), (OTHER, OTHER));
    }
}
