//! The methods a service serves, by path: what metrics and span names are
//! labelled with. A path that is not one of them (a made-up method, another
//! service's) is labelled [`OTHER`], so no caller can grow the number of
//! series or span names by inventing paths.

/// The label of every path a service does not serve.
pub const OTHER: &str = "_OTHER";

/// Methods every service serves beside its own and the change feed.
const COMMON: &[(&str, &str)] = &[
    ("/grpc.health.v1.Health/Check", "Check"),
    ("/grpc.health.v1.Health/Watch", "Watch"),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "ServerReflectionInfo",
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        "ServerReflectionInfo",
    ),
];

/// The paths one service serves, with their method names.
#[derive(Debug, Clone)]
pub struct Methods {
    /// Sorted by path, for a binary search per request.
    paths: Vec<(&'static str, &'static str)>,
}

impl Methods {
    /// The methods of `grpc_service` (e.g. `ocop.registry.v1.RegistryService`),
    /// of the change feed, of health and of reflection.
    pub fn of(grpc_service: &str) -> Methods {
        let mut paths: Vec<_> = ocop_proto::boundary::METHODS
            .iter()
            .filter(|m| m.service == grpc_service || m.service == "ocop.feed.v1.FeedService")
            .map(|m| (m.path, m.name))
            .chain(COMMON.iter().copied())
            .collect();
        paths.sort_unstable();
        Methods { paths }
    }

    /// The method name of `path`, or [`OTHER`].
    pub fn name(&self, path: &str) -> &'static str {
        match self.paths.binary_search_by(|(p, _)| (*p).cmp(path)) {
            Ok(i) => self.paths[i].1,
            Err(_) => OTHER,
        }
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
        assert_eq!(methods.name("/grpc.health.v1.Health/Check"), "Check");
        assert_eq!(methods.name("/ocop.registry.v1.RegistryService/Made_Up_1"), OTHER);
        assert_eq!(
            methods.name("/ocop.evaluation.v1.EvaluationService/GetEvaluationRound"),
            OTHER
        );
        assert_eq!(methods.name("/"), OTHER);
    }
}
