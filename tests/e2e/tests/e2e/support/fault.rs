//! What the fault suite's tests share: the four services in this process on
//! one database (a province deployment of Thanh Hóa, 38, and for the
//! authorization matrix a second one of Phú Thọ, 25, on the same tables), a
//! product of each province taken through a round to a certificate, the
//! contracts' descriptors, a small deterministic random generator, and calls
//! of any method with any bytes.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use ocop_proto::boundary::{METHODS, Method};
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::registry::v1::ListAdministrativeUnitsRequest;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_testkit::flows::{self, NewProduct, RoundPlan};
use ocop_testkit::raw::RawCodec;
use ocop_testkit::{TestApp, TestEnv, authorized};
use prost_reflect::{DescriptorPool, FieldDescriptor, MessageDescriptor};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

pub(crate) const REGISTRY: &str = "ocop.registry.v1.RegistryService";
pub(crate) const EVALUATION: &str = "ocop.evaluation.v1.EvaluationService";
pub(crate) const CERTIFICATION: &str = "ocop.certification.v1.CertificationService";
pub(crate) const PROMOTION: &str = "ocop.promotion.v1.PromotionService";
/// Served by every service beside its own.
pub(crate) const FEED: &str = "ocop.feed.v1.FeedService";
/// Served by every service beside its own, over its own schema.
pub(crate) const AUDIT: &str = "ocop.audit.v1.AuditService";
/// The benchmark harness's baseline handlers: served by no deployment.
pub(crate) const BENCH: &str = "ocop.bench.v1.BenchService";

/// The services a deployment runs, in the order they are started.
pub(crate) const SERVICES: [&str; 4] = [REGISTRY, EVALUATION, CERTIFICATION, PROMOTION];

/// The province the deployment under test serves.
pub(crate) const OWN: &str = "38";
/// Another province.
pub(crate) const OTHER: &str = "25";
/// A commune of Thanh Hóa (Phường Hàm Rồng), as the other tests use.
pub(crate) const OWN_COMMUNE: &str = "14758";

/// Every method the deployments serve, from the descriptors; panics on a
/// service the suite does not know, so a new one cannot go unfuzzed.
pub(crate) fn served_methods() -> Vec<&'static Method> {
    let methods: Vec<_> = METHODS.iter().filter(|m| m.service != BENCH).collect();
    for m in &methods {
        assert!(
            SERVICES.contains(&m.service) || m.service == FEED || m.service == AUDIT,
            "{} is served by a service the fault suite does not start ({}): add it to support/fault.rs",
            m.path,
            m.service
        );
    }
    for service in SERVICES.iter().chain([&FEED, &AUDIT]) {
        assert!(
            methods.iter().any(|m| m.service == *service),
            "no method of {service} in METHODS"
        );
    }
    methods
}

/// The contracts, for generating messages.
pub(crate) fn descriptors() -> DescriptorPool {
    DescriptorPool::decode(ocop_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set decodes")
}

/// The input message of `method`.
pub(crate) fn input_of(pool: &DescriptorPool, method: &Method) -> MessageDescriptor {
    pool.get_message_by_name(method.input)
        .unwrap_or_else(|| panic!("{} is not in the descriptor set", method.input))
}

/// The output message of `method`.
pub(crate) fn output_of(pool: &DescriptorPool, method: &Method) -> MessageDescriptor {
    pool.get_service_by_name(method.service)
        .and_then(|s| s.methods().find(|m| m.name() == method.name))
        .map(|m| m.output())
        .unwrap_or_else(|| panic!("{} is not in the descriptor set", method.path))
}

/// The leading comment of a field in its `.proto`.
pub(crate) fn comment_of(field: &FieldDescriptor) -> String {
    comment_at(field.parent_file().file_descriptor_proto(), field.path())
}

/// The leading comment of a message in its `.proto`.
pub(crate) fn message_comment_of(message: &MessageDescriptor) -> String {
    comment_at(message.parent_file().file_descriptor_proto(), message.path())
}

fn comment_at(file: &prost_types::FileDescriptorProto, path: &[i32]) -> String {
    file.source_code_info
        .as_ref()
        .and_then(|info| info.location.iter().find(|l| l.path == path))
        .and_then(|l| l.leading_comments.clone())
        .unwrap_or_default()
}

/// The first resource-name pattern quoted in a comment, e.g.
/// `subjects/{subject}/products/{product}`.
pub(crate) fn pattern_in(comment: &str) -> Option<String> {
    comment
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|quoted| quoted.contains('/') && quoted.contains('{') && !quoted.contains(' '))
        .map(str::to_owned)
}

/// The resource pattern of a string field: quoted in its comment, or, for
/// `name`, in its message's.
pub(crate) fn pattern_of(field: &FieldDescriptor) -> Option<String> {
    pattern_in(&comment_of(field)).or_else(|| {
        (field.name() == "name")
            .then(|| pattern_in(&message_comment_of(&field.parent_message().clone())))
            .flatten()
    })
}

/// Whether `name` is a name of `pattern` (`{...}` segments match any id).
pub(crate) fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), name.split('/').collect());
    p.len() == n.len()
        && p.iter().zip(&n).all(|(p, n)| {
            if p.starts_with('{') {
                !n.is_empty() && *n != "-"
            } else {
                p == n
            }
        })
}

/// Splitmix64: small, fast and the same on every machine, so a seed replays a run.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True `percent` times in a hundred.
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }

    /// A fork with its own sequence, so that one method's inputs do not
    /// depend on how many draws another's took.
    pub(crate) fn fork(&mut self, salt: &str) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in salt.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Rng::new(self.next_u64() ^ h)
    }
}

/// The run's seed: `OCOP_FUZZ_SEED` (decimal or 0x-hex) to replay one, else new.
pub(crate) fn seed() -> u64 {
    match std::env::var("OCOP_FUZZ_SEED") {
        Ok(s) => {
            let s = s.trim();
            s.strip_prefix("0x")
                .map_or_else(|| s.parse(), |hex| u64::from_str_radix(hex, 16))
                .unwrap_or_else(|e| panic!("OCOP_FUZZ_SEED={s}: {e}"))
        }
        Err(_) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            (now.as_nanos() as u64) ^ (u64::from(std::process::id()) << 32)
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name of a status code, as gRPC spells it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The `ErrorInfo.reason` of a status, if any.
pub(crate) fn reason(status: &Status) -> String {
    use tonic_types::StatusExt;
    status.get_details_error_info().map(|i| i.reason).unwrap_or_default()
}

/// What one call came to.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// The answer (a unary answer, or a stream's first message).
    Ok(Bytes),
    /// A stream that is open and has sent nothing yet (the feed, caught up).
    Open,
    /// An error status.
    Status(Status),
    /// No answer within the limit.
    Hung,
}

impl Outcome {
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Outcome::Ok(_) => "OK",
            Outcome::Open => "OK (stream open)",
            Outcome::Status(s) => code_name(s.code()),
            Outcome::Hung => "NO ANSWER",
        }
    }

    pub(crate) fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_) | Outcome::Open)
    }
}

/// Sends `body` to `method` (a unary call, or a server stream read to its
/// first message or status), giving up after `limit`.
pub(crate) async fn call(
    channel: &Channel,
    method: &Method,
    body: Bytes,
    token: Option<&str>,
    limit: Duration,
) -> Outcome {
    let call = async {
        if method.client_streaming {
            // No method streams from the client; if one comes, send one message.
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            if let Err(e) = grpc.ready().await {
                return Outcome::Status(Status::unavailable(format!("not ready: {e}")));
            }
            let request = with_token(Request::new(tokio_stream::once(body)), token);
            let path = http::uri::PathAndQuery::from_static(method.path);
            return match grpc.streaming(request, path, RawCodec).await {
                Ok(response) => first(response.into_inner()).await,
                Err(status) => Outcome::Status(status),
            };
        }
        if method.server_streaming {
            let mut grpc = tonic::client::Grpc::new(channel.clone());
            if let Err(e) = grpc.ready().await {
                return Outcome::Status(Status::unavailable(format!("not ready: {e}")));
            }
            let request = with_token(Request::new(body), token);
            let path = http::uri::PathAndQuery::from_static(method.path);
            return match grpc.server_streaming(request, path, RawCodec).await {
                Ok(response) => first(response.into_inner()).await,
                Err(status) => Outcome::Status(status),
            };
        }
        match ocop_testkit::raw::unary(channel.clone(), method.path, body, token).await {
            Ok(answer) => Outcome::Ok(answer),
            Err(status) => Outcome::Status(status),
        }
    };
    tokio::time::timeout(limit, call).await.unwrap_or(Outcome::Hung)
}

/// A stream's first message or its status; open if neither comes soon
/// (the feed waits for changes).
async fn first(mut stream: tonic::Streaming<Bytes>) -> Outcome {
    match tokio::time::timeout(Duration::from_millis(300), stream.message()).await {
        Ok(Ok(Some(message))) => Outcome::Ok(message),
        Ok(Ok(None)) => Outcome::Ok(Bytes::new()),
        Ok(Err(status)) => Outcome::Status(status),
        Err(_) => Outcome::Open,
    }
}

fn with_token<T>(mut request: Request<T>, token: Option<&str>) -> Request<T> {
    if let Some(token) = token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// One deployment's services, running in this process.
pub(crate) struct Deployment {
    pub province: String,
    pub apps: Vec<(&'static str, TestApp)>,
    pub channels: BTreeMap<&'static str, Channel>,
}

impl Deployment {
    /// Starts `services` (a prefix of [`SERVICES`]) for `env`'s deployment,
    /// each pointed at the ones before it.
    pub(crate) async fn start(env: &mut TestEnv, services: &[&'static str]) -> Deployment {
        let mut apps = Vec::new();
        let mut channels = BTreeMap::new();
        for service in services {
            let app = match *service {
                REGISTRY => env.spawn(ocop_registry::spec(), ocop_registry::routes).await,
                EVALUATION => env.spawn(ocop_evaluation::spec(), ocop_evaluation::routes).await,
                CERTIFICATION => env.spawn(ocop_certification::spec(), ocop_certification::routes).await,
                PROMOTION => env.spawn(ocop_promotion::spec(), ocop_promotion::routes).await,
                other => panic!("unknown service {other}"),
            };
            let url = format!("http://{}", app.grpc_addr);
            match *service {
                REGISTRY => env.config.services.registry.url = url,
                EVALUATION => env.config.services.evaluation.url = url,
                CERTIFICATION => env.config.services.certification.url = url,
                _ => env.config.services.promotion.url = url,
            }
            channels.insert(*service, app.channel().await);
            apps.push((*service, app));
        }
        Deployment {
            province: env.config.deployment.province_code.clone().unwrap_or_default(),
            apps,
            channels,
        }
    }

    /// The channel of `service`.
    pub(crate) fn channel(&self, service: &str) -> &Channel {
        self.channels
            .get(service)
            .unwrap_or_else(|| panic!("{service} is not running in deployment {}", self.province))
    }

    /// Panics unless every service still says SERVING.
    pub(crate) async fn assert_serving(&self) {
        for (service, app) in &self.apps {
            let check = tokio::time::timeout(Duration::from_secs(10), app.wait_serving(Duration::from_secs(5)));
            assert!(check.await.is_ok(), "{service} no longer answers health");
        }
    }
}

/// Resource names that exist, by province.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pools {
    pub names: BTreeMap<String, Vec<String>>,
}

impl Pools {
    pub(crate) fn add(&mut self, province: &str, name: impl Into<String>) {
        let name = name.into();
        let names = self.names.entry(province.to_owned()).or_default();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }

    /// The newest name of `pattern` in `province`.
    pub(crate) fn newest(&self, province: &str, pattern: &str) -> Option<&str> {
        self.names
            .get(province)?
            .iter()
            .rev()
            .find(|n| matches(pattern, n))
            .map(String::as_str)
    }

    /// Every name, of every province.
    pub(crate) fn all(&self) -> Vec<String> {
        self.names.values().flatten().cloned().collect()
    }
}

/// A test's world: one database, the deployment of 38 (and of 25 when asked),
/// and resources of each.
pub(crate) struct World {
    pub env: TestEnv,
    pub own: Deployment,
    pub other: Option<Deployment>,
    pub pools: Pools,
    pub communes: BTreeMap<String, String>,
}

impl World {
    /// Starts the four services of 38, and with `other` the registry,
    /// evaluation and certification of 25 on the same database, and takes a
    /// product of each province through a round to a certificate.
    pub(crate) async fn start(other: bool) -> World {
        let mut env = TestEnv::new().await;
        env.config.deployment.province_code = Some(OWN.into());
        let own = Deployment::start(&mut env, &SERVICES).await;
        let mut pools = Pools::default();
        let mut communes = BTreeMap::new();
        communes.insert(OWN.to_owned(), OWN_COMMUNE.to_owned());
        let officer = env.token("province_officer", Some(OWN), None);
        setup(&env, &own, &officer, OWN_COMMUNE, "2800000001", &mut pools, true).await;

        let other = if other {
            let pem = std::fs::read_to_string(env.dir.join("signing.pem")).expect("signing key");
            let mut phu_tho = TestEnv {
                config: env.config.clone(),
                signer: ocop_kit::auth::Signer::from_pem(&pem, ocop_testkit::ISSUER)
                    .expect("signer")
                    .with_audience(ocop_testkit::AUDIENCE),
                database: env.database.clone(),
                dir: env.dir.clone(),
                client_tls: env.client_tls.clone(),
            };
            phu_tho.config.deployment.province_code = Some(OTHER.into());
            let deployment = Deployment::start(&mut phu_tho, &SERVICES[..3]).await;
            let officer = env.token("province_officer", Some(OTHER), None);
            let commune = commune_of(deployment.channel(REGISTRY), &officer, OTHER).await;
            setup(
                &phu_tho,
                &deployment,
                &officer,
                &commune,
                "2500000001",
                &mut pools,
                false,
            )
            .await;
            communes.insert(OTHER.to_owned(), commune);
            Some(deployment)
        } else {
            None
        };
        World {
            env,
            own,
            other,
            pools,
            communes,
        }
    }

    /// A token for `role` with `province` and `commune` claims, as `subject`.
    pub(crate) fn token(&self, subject: &str, role: &str, province: Option<&str>, commune: Option<&str>) -> String {
        self.env
            .signer
            .issue(subject, role, province, commune, 600)
            .expect("sign")
    }
}

/// The first commune of `province` in the reference data.
async fn commune_of(registry: &Channel, token: &str, province: &str) -> String {
    RegistryServiceClient::new(registry.clone())
        .list_administrative_units(authorized(
            ListAdministrativeUnitsRequest {
                page_size: 1,
                filter: format!("level = commune AND scheme = 2025 AND province_code = \"{province}\""),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("list communes")
        .into_inner()
        .administrative_units
        .first()
        .unwrap_or_else(|| panic!("no commune of province {province} in the reference data"))
        .code
        .clone()
}

/// A product of `commune` through a published round to a certificate, and
/// with `scoring`, a second product in a round left in SCORING.
async fn setup(
    env: &TestEnv,
    deployment: &Deployment,
    officer: &str,
    commune: &str,
    registration: &str,
    pools: &mut Pools,
    scoring: bool,
) {
    let province = deployment.province.clone();
    let mut registry = RegistryServiceClient::new(deployment.channel(REGISTRY).clone());
    let mut evaluation = EvaluationServiceClient::new(deployment.channel(EVALUATION).clone());
    let mut certification =
        ocop_proto::certification::v1::certification_service_client::CertificationServiceClient::new(
            deployment.channel(CERTIFICATION).clone(),
        );
    let new = NewProduct {
        commune,
        registration,
        name: "Mật ong rừng",
        subgroup: "rau-cu-qua-hat-tuoi",
    };
    let (subject, product) = flows::product(&mut registry, officer, new).await;
    pools.add(&province, &subject.name);
    pools.add(&province, &product.name);
    let evaluated = flows::evaluate(
        env,
        &mut evaluation,
        officer,
        &[&product],
        RoundPlan::province_2026(1, 4),
    )
    .await;
    add_round(pools, &province, &evaluated);
    let certificate = flows::certify(&mut certification, officer, &evaluated.results[0].name, (2026, 6, 15)).await;
    pools.add(&province, &certificate.name);
    if scoring {
        let registration = format!("{}2", &registration[..registration.len() - 1]);
        let new = NewProduct {
            registration: &registration,
            name: "Chè Shan tuyết",
            ..new
        };
        let (_, second) = flows::product(&mut registry, officer, new).await;
        pools.add(&province, &second.name);
        let plan = RoundPlan {
            publish: false,
            ..RoundPlan::province_2026(2, 3)
        };
        let evaluated = flows::evaluate(env, &mut evaluation, officer, &[&second], plan).await;
        add_round(pools, &province, &evaluated);
    }
}

fn add_round(pools: &mut Pools, province: &str, evaluated: &flows::Evaluated) {
    pools.add(province, &evaluated.round.name);
    for result in &evaluated.result_names {
        let entry = result.trim_end_matches("/result");
        pools.add(province, entry);
        for (user, _) in flows::COUNCIL {
            pools.add(province, format!("{entry}/scoreSheets/{user}"));
        }
        if !evaluated.results.is_empty() {
            pools.add(province, result);
        }
    }
}
