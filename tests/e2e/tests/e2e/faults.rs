//! The fault suite: the service binaries as processes, under load, while
//! what they depend on fails.
//!
//! - Redis of the test's own killed and restarted under 64 concurrent reads:
//!   no read fails, and a change made while it was down is what is read (and
//!   cached) after.
//! - PostgreSQL of the test's own restarted, fast then immediate, under 16
//!   concurrent creates with request_ids: no acknowledged write is lost, every
//!   failure is UNAVAILABLE with RetryInfo, retries make no duplicate, and
//!   writes succeed again within 2 s of the database being back, with no
//!   service restarted.
//! - SIGTERM under load on each service: no call in flight fails, and the
//!   process exits 0 within 2 s.
//!
//! The load phases are counted in requests (a few hundred), not timed, so the
//! suite stays within seconds. Each test prints one summary line with its
//! figures (`cargo test -p ocop-e2e --test faults -- --nocapture`).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ocop_e2e::{Process, connect, eventually};
use ocop_proto::certification::v1::ListCertificatesRequest;
use ocop_proto::certification::v1::certification_service_client::CertificationServiceClient;
use ocop_proto::evaluation::v1::ListCriteriaSetsRequest;
use ocop_proto::evaluation::v1::evaluation_service_client::EvaluationServiceClient;
use ocop_proto::promotion::v1::ListSalesPointsRequest;
use ocop_proto::promotion::v1::promotion_service_client::PromotionServiceClient;
use ocop_proto::registry::v1::registry_service_client::RegistryServiceClient;
use ocop_proto::registry::v1::{
    CreateProductRequest, CreateSubjectRequest, GetSubjectRequest, ListSubjectsRequest, Product, Representative,
    Subject, SubjectKind, UpdateSubjectRequest,
};
use ocop_testkit::pg_server::{PgServer, Shutdown};
use ocop_testkit::poll::{self, Text};
use ocop_testkit::redis_server::RedisServer;
use ocop_testkit::{TestEnv, authorized};
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Outcomes by gRPC code name ("OK", "UNAVAILABLE", ...), and the first
/// message seen for each failing code.
#[derive(Default, Debug)]
struct Tally {
    by_code: BTreeMap<String, u64>,
    first_message: BTreeMap<String, String>,
}

impl Tally {
    fn ok(&mut self) {
        *self.by_code.entry("OK".into()).or_default() += 1;
    }

    fn failed(&mut self, label: String, status: &Status) {
        *self.by_code.entry(label.clone()).or_default() += 1;
        self.first_message.entry(label).or_insert_with(|| format!("{status:?}"));
    }

    fn count(&self, label: &str) -> u64 {
        self.by_code.get(label).copied().unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.by_code.values().sum()
    }

    /// Failures by code, e.g. `{UNAVAILABLE: 12}`.
    fn failures(&self) -> BTreeMap<&str, u64> {
        self.by_code
            .iter()
            .filter(|(code, _)| code.as_str() != "OK")
            .map(|(code, n)| (code.as_str(), *n))
            .collect()
    }
}

/// `UNAVAILABLE`, `INTERNAL`, ...: the name the gRPC spec gives a code.
fn code_name(code: Code) -> String {
    let name = format!("{code:?}");
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

fn producer(legal_name: String, registration_number: String) -> Subject {
    Subject {
        kind: SubjectKind::HouseholdBusiness as i32,
        legal_name,
        registration_number,
        representative: Some(Representative {
            full_name: "Lê Thị Hoa".into(),
            ..Default::default()
        }),
        commune_code: "14758".into(),
        ..Default::default()
    }
}

async fn create_producer(client: &mut RegistryServiceClient<Channel>, token: &str, number: &str) -> Subject {
    client
        .create_subject(authorized(
            CreateSubjectRequest {
                subject: Some(producer(format!("Hợp tác xã thử lỗi {number}"), number.into())),
                ..Default::default()
            },
            token,
        ))
        .await
        .expect("create a producer")
        .into_inner()
        .subject
        .unwrap()
}

/// Waits until `counter` reaches `target`.
async fn reach(what: &str, counter: &AtomicU64, target: u64) {
    eventually(what, || async {
        (counter.load(Ordering::SeqCst) >= target).then_some(())
    })
    .await
}

/// Whether `bytes` contains `needle`.
fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

async fn redis_get(url: &str, key: &str) -> Option<Vec<u8>> {
    let client = redis::Client::open(url).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    redis::cmd("GET").arg(key).query_async(&mut conn).await.ok()?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_and_restarted_under_64_concurrent_reads_fails_no_read_and_shows_the_change() {
    const READERS: usize = 64;
    const PRODUCERS: usize = 8;
    // Reads per phase: about five per reader.
    const PHASE: u64 = 320;
    let began = Instant::now();
    let redis = RedisServer::start().await;
    let (port, redis_url) = (redis.port(), redis.url());
    let env = TestEnv::new().await;
    let mut registry = Process::start("registry", &env, &[("OCOP_REDIS__URL", &redis_url)]);
    let officer = env.token("province_officer", Some("38"), None);
    let mut client = RegistryServiceClient::new(connect(&registry).await);
    let mut names = Vec::new();
    for i in 0..PRODUCERS {
        names.push(create_producer(&mut client, &officer, &format!("RD{i:08}")).await.name);
    }
    let changed = names[0].clone();
    let renamed = "Hợp tác xã thử lỗi, đổi tên khi Redis vắng".to_owned();

    let names = Arc::new(names);
    let stop = Arc::new(AtomicBool::new(false));
    // Set once the rename is acknowledged: reads that start after must see it.
    let renamed_acked = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let stale = Arc::new(AtomicU64::new(0));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(connect(&registry).await);
    }
    let mut readers = Vec::new();
    for r in 0..READERS {
        let mut client = RegistryServiceClient::new(channels[r % channels.len()].clone());
        let (names, stop, renamed_acked, reads, stale, tally) = (
            names.clone(),
            stop.clone(),
            renamed_acked.clone(),
            reads.clone(),
            stale.clone(),
            tally.clone(),
        );
        let (token, renamed) = (officer.clone(), renamed.clone());
        readers.push(tokio::spawn(async move {
            let mut i = r;
            while !stop.load(Ordering::SeqCst) {
                let name = names[i % names.len()].clone();
                i += 1;
                let must_see_rename = name == names[0] && renamed_acked.load(Ordering::SeqCst);
                let answer = client
                    .get_subject(authorized(GetSubjectRequest { name: name.clone() }, &token))
                    .await;
                match answer {
                    Ok(response) => {
                        let subject = response.into_inner().subject.unwrap_or_default();
                        if subject.name != name {
                            tally
                                .lock()
                                .unwrap()
                                .failed("WRONG_SUBJECT".into(), &Status::internal(subject.name));
                        } else {
                            if must_see_rename && subject.legal_name != renamed {
                                stale.fetch_add(1, Ordering::SeqCst);
                            }
                            tally.lock().unwrap().ok();
                        }
                    }
                    Err(status) => tally.lock().unwrap().failed(code_name(status.code()), &status),
                }
                reads.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }

    let key = format!(
        "{}:registry:subject:{}",
        env.config.redis.key_prefix,
        &changed["subjects/".len()..]
    );
    eventually("the reads are cached", || async {
        redis_get(&redis_url, &key).await.map(|_| ())
    })
    .await;
    let warm = reads.load(Ordering::SeqCst);
    reach("reads with Redis up", &reads, warm + PHASE).await;

    // Killed (SIGKILL): it saves nothing, so it comes back empty.
    let phases = began.elapsed();
    redis.stop();
    let killed = reads.load(Ordering::SeqCst);
    reach("reads with Redis down", &reads, killed + PHASE).await;
    let current = client
        .get_subject(authorized(GetSubjectRequest { name: changed.clone() }, &officer))
        .await
        .expect("read with Redis down")
        .into_inner()
        .subject
        .unwrap();
    client
        .update_subject(authorized(
            UpdateSubjectRequest {
                subject: Some(Subject {
                    name: changed.clone(),
                    etag: current.etag,
                    legal_name: renamed.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["legal_name".into()],
                }),
            },
            &officer,
        ))
        .await
        .expect("a change with Redis down");
    renamed_acked.store(true, Ordering::SeqCst);
    let updated = reads.load(Ordering::SeqCst);
    reach("reads after the change, Redis down", &reads, updated + PHASE).await;
    let down_reads = reads.load(Ordering::SeqCst) - killed;

    let _redis = RedisServer::start_on(port).await;
    let back = Instant::now();
    let restarted = reads.load(Ordering::SeqCst);
    // Caching resumes, with the value from after the change.
    eventually("the renamed producer is cached again", || async {
        redis_get(&redis_url, &key)
            .await
            .filter(|bytes| contains(bytes, &renamed))
            .map(|_| ())
    })
    .await;
    let cached_again = back.elapsed();
    reach("reads with Redis back", &reads, reads.load(Ordering::SeqCst) + PHASE).await;
    stop.store(true, Ordering::SeqCst);
    for reader in readers {
        reader.await.expect("reader");
    }
    let after = client
        .get_subject(authorized(GetSubjectRequest { name: changed.clone() }, &officer))
        .await
        .expect("read after Redis returned")
        .into_inner()
        .subject
        .unwrap();
    assert!(registry.try_wait().is_none(), "the registry kept running");

    let tally = tally.lock().unwrap();
    let stale = stale.load(Ordering::SeqCst);
    println!(
        "faults/redis: requests={} ok={} failures={:?} stale_after_change={stale} reads_while_down={down_reads} \
         reads_after_restart={} cached_again_after={cached_again:?} readers={READERS} \
         setup={phases:?} took={:?}",
        tally.total(),
        tally.count("OK"),
        tally.failures(),
        tally.total() - restarted,
        began.elapsed(),
    );
    assert!(
        tally.failures().is_empty(),
        "reads failed with Redis killed: {tally:?}\n{}",
        registry.output().join("\n")
    );
    assert_eq!(stale, 0, "reads that began after the change returned the old name");
    assert_eq!(
        after.legal_name, renamed,
        "the change made while Redis was down is visible after"
    );
}

/// One create of the PostgreSQL restart test: a producer, or a product of
/// one of the parent producers.
#[derive(Clone, Debug)]
enum Create {
    Subject { number: String },
    Product { parent: String, display_name: String },
}

impl Create {
    /// What identifies it in the database: the registration number or the display name.
    fn key(&self) -> &str {
        match self {
            Create::Subject { number } => number,
            Create::Product { display_name, .. } => display_name,
        }
    }

    async fn send(
        &self,
        client: &mut RegistryServiceClient<Channel>,
        token: &str,
        request_id: &str,
    ) -> Result<String, Status> {
        match self {
            Create::Subject { number } => client
                .create_subject(authorized(
                    CreateSubjectRequest {
                        subject: Some(producer(format!("Hộ kinh doanh ghi thử {number}"), number.clone())),
                        subject_id: String::new(),
                        request_id: request_id.into(),
                    },
                    token,
                ))
                .await
                .map(|r| r.into_inner().subject.unwrap_or_default().name),
            Create::Product { parent, display_name } => client
                .create_product(authorized(
                    CreateProductRequest {
                        parent: parent.clone(),
                        product: Some(Product {
                            display_name: display_name.clone(),
                            group_code: "thuc-pham".into(),
                            subgroup_code: "mat-ong-cac-san-pham-tu-mat-ong-mat-khac".into(),
                            ..Default::default()
                        }),
                        product_id: String::new(),
                        request_id: request_id.into(),
                    },
                    token,
                ))
                .await
                .map(|r| r.into_inner().product.unwrap_or_default().name),
        }
    }
}

/// An acknowledged create: what it was, the resource name returned, when.
#[derive(Debug)]
struct Acked {
    create: Create,
    name: String,
    at: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restarted_fast_and_immediate_under_concurrent_creates_loses_and_duplicates_nothing() {
    const WRITERS: usize = 16;
    // Acknowledged creates per phase.
    const PHASE: u64 = 48;
    let began = Instant::now();
    let mut pg = PgServer::start().await;
    let mut env = TestEnv::new().await;
    pg.create_database(&env.database).await;
    env.config.database.url = pg.url(&env.database);
    let mut registry = Process::start("registry", &env, &[]);
    let pid = registry.pid();
    let officer = env.token("province_officer", Some("38"), None);
    let mut client = RegistryServiceClient::new(connect(&registry).await);
    let mut parents = Vec::new();
    for i in 0..4 {
        parents.push(create_producer(&mut client, &officer, &format!("PP{i:08}")).await.name);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let next = Arc::new(AtomicU64::new(0));
    let acked_count = Arc::new(AtomicU64::new(0));
    let acked = Arc::new(Mutex::new(Vec::<Acked>::new()));
    let gave_up = Arc::new(Mutex::new(Vec::<(Create, Status)>::new()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let retried_requests = Arc::new(AtomicU64::new(0));
    let channel = connect(&registry).await;
    let mut writers = Vec::new();
    for _ in 0..WRITERS {
        let mut client = RegistryServiceClient::new(channel.clone());
        let (stop, next, acked_count, acked, gave_up, tally, retried, parents, token) = (
            stop.clone(),
            next.clone(),
            acked_count.clone(),
            acked.clone(),
            gave_up.clone(),
            tally.clone(),
            retried_requests.clone(),
            parents.clone(),
            officer.clone(),
        );
        writers.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let create = if i % 2 == 0 {
                    Create::Subject {
                        number: format!("WR{i:08}"),
                    }
                } else {
                    Create::Product {
                        parent: parents[(i as usize / 2) % parents.len()].clone(),
                        display_name: format!("Mật ong ghi thử {i}"),
                    }
                };
                // One request_id for every attempt of this create.
                let request_id = uuid::Uuid::new_v4().to_string();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    match create.send(&mut client, &token, &request_id).await {
                        Ok(name) => {
                            tally.lock().unwrap().ok();
                            if attempts > 1 {
                                retried.fetch_add(1, Ordering::SeqCst);
                            }
                            acked.lock().unwrap().push(Acked {
                                create,
                                name,
                                at: Instant::now(),
                            });
                            acked_count.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Err(status) if matches!(status.code(), Code::Unavailable | Code::Aborted) => {
                            let label = if status.get_details_retry_info().is_some() {
                                code_name(status.code())
                            } else {
                                format!("{} without RetryInfo", code_name(status.code()))
                            };
                            tally.lock().unwrap().failed(label, &status);
                            // Not a wait for a condition: the client's own retry pause (the
                            // behaviour under test), much shorter than the RetryInfo asks,
                            // to see recovery to the ~50 ms.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(status) => {
                            tally.lock().unwrap().failed(code_name(status.code()), &status);
                            gave_up.lock().unwrap().push((create, status));
                            break;
                        }
                    }
                }
            }
        }));
    }

    reach("creates before the restarts", &acked_count, PHASE).await;
    let mut figures = Vec::new();
    for mode in [Shutdown::Fast, Shutdown::Immediate] {
        let before = acked_count.load(Ordering::SeqCst);
        let down = pg.restart(mode).await;
        let up = Instant::now();
        // The first create acknowledged after the database is back.
        let recovered = eventually("a create succeeds after the restart", || async {
            acked
                .lock()
                .unwrap()
                .iter()
                .filter(|a| a.at >= up)
                .map(|a| a.at - up)
                .min()
        })
        .await;
        figures.push(format!("{mode:?}: down {down:?}, writes back {recovered:?}"));
        assert!(
            recovered < Duration::from_secs(2),
            "{mode:?} restart: the first create succeeded {recovered:?} after PostgreSQL was back"
        );
        let now = acked_count.load(Ordering::SeqCst);
        reach("creates after the restart", &acked_count, now.max(before) + PHASE).await;
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("writer");
    }
    assert!(
        registry.try_wait().is_none() && registry.pid() == pid,
        "the registry was not restarted"
    );

    // What the database holds, by registration number or display name.
    let admin = sqlx::PgPool::connect(&env.config.database.url).await.unwrap();
    let mut stored: HashMap<String, Vec<String>> = HashMap::new();
    let subjects: Vec<(String, String)> =
        sqlx::query_as("SELECT registration_number, 'subjects/' || id FROM registry.subjects")
            .fetch_all(&admin)
            .await
            .unwrap();
    let products: Vec<(String, String)> =
        sqlx::query_as("SELECT display_name, 'subjects/' || subject_id || '/products/' || id FROM registry.products")
            .fetch_all(&admin)
            .await
            .unwrap();
    for (key, name) in subjects.into_iter().chain(products) {
        stored.entry(key).or_default().push(name);
    }
    admin.close().await;

    let acked = acked.lock().unwrap();
    let gave_up = gave_up.lock().unwrap();
    let tally = tally.lock().unwrap();
    let lost: Vec<&Acked> = acked
        .iter()
        .filter(|a| !stored.get(a.create.key()).is_some_and(|names| names.contains(&a.name)))
        .collect();
    let duplicates: Vec<(&String, &Vec<String>)> = stored.iter().filter(|(_, names)| names.len() > 1).collect();
    let acked_keys: std::collections::HashSet<&str> = acked.iter().map(|a| a.create.key()).collect();
    let parent_keys = 4;
    let unacked_rows =
        (stored.len() - parent_keys).saturating_sub(stored.keys().filter(|k| acked_keys.contains(k.as_str())).count());
    let log = || {
        let lines = registry.output();
        let errors: Vec<&String> = lines
            .iter()
            .filter(|l| l.contains("\"ERROR\"") || l.contains("database unavailable"))
            .take(40)
            .collect();
        format!("{errors:#?}")
    };
    // The database errors the registry turned into UNAVAILABLE, by text.
    let mut database_errors: BTreeMap<String, u64> = BTreeMap::new();
    for line in registry.output() {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
            && v["fields"]["message"] == "database unavailable"
        {
            let error: String = v["fields"]["error"]
                .as_str()
                .unwrap_or_default()
                .chars()
                .take(90)
                .collect();
            *database_errors.entry(error).or_default() += 1;
        }
    }
    println!(
        "faults/postgres: requests={} acked={} attempts={} failures={:?} retried_requests={} lost={} duplicates={} \
         gave_up={} unacked_rows={unacked_rows} writers={WRITERS} restarts=[{}] database_errors={database_errors:?} \
         took={:?}",
        acked.len() + gave_up.len(),
        acked.len(),
        tally.total(),
        tally.failures(),
        retried_requests.load(Ordering::SeqCst),
        lost.len(),
        duplicates.len(),
        gave_up.len(),
        figures.join("; "),
        began.elapsed(),
    );
    assert!(lost.is_empty(), "acknowledged creates lost: {lost:#?}");
    assert!(duplicates.is_empty(), "retries made duplicates: {duplicates:#?}");
    assert!(
        gave_up.is_empty(),
        "creates failed with a code that is not retryable: {gave_up:#?}\nfirst messages: {:#?}\nregistry log: {}",
        tally.first_message,
        log()
    );
    let not_unavailable: Vec<_> = tally
        .failures()
        .into_iter()
        .filter(|(code, _)| *code != "UNAVAILABLE")
        .collect();
    assert!(
        not_unavailable.is_empty(),
        "every failure must be UNAVAILABLE with RetryInfo: {not_unavailable:?}\nfirst messages: {:#?}\nregistry log: {}",
        tally.first_message,
        log()
    );
    assert_eq!(unacked_rows, 0, "every create was acknowledged in the end");
}

/// The unary read each service is loaded with.
async fn read_once(service: &str, channel: Channel, token: &str) -> Result<(), Status> {
    match service {
        "registry" => RegistryServiceClient::new(channel)
            .list_subjects(authorized(
                ListSubjectsRequest {
                    page_size: 10,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        // Five sets: the default page (every set) takes close to a second
        // under this load in a debug build, which would measure the calls
        // rather than the shutdown. (With it, about one shutdown in five lost
        // an in-flight response to a connection reset: the server closed the
        // connection with the client's later frames unread; connections now
        // linger at close, libs/kit/src/linger.rs.)
        "evaluation" => EvaluationServiceClient::new(channel)
            .list_criteria_sets(authorized(
                ListCriteriaSetsRequest {
                    page_size: 5,
                    ..Default::default()
                },
                token,
            ))
            .await
            .map(drop),
        "certification" => CertificationServiceClient::new(channel)
            .list_certificates(authorized(ListCertificatesRequest::default(), token))
            .await
            .map(drop),
        "promotion" => PromotionServiceClient::new(channel)
            .list_sales_points(authorized(ListSalesPointsRequest::default(), token))
            .await
            .map(drop),
        other => unreachable!("{other}"),
    }
}

/// For a failed call the server never took, why: the closed listener
/// refused the connection (UNAVAILABLE), the client never sent the request
/// because the connection closed first (hyper's `Canceled`, which tonic
/// reports as CANCELLED), or the stream came after the server's GOAWAY
/// (which tonic reports as INTERNAL). All are safe to retry elsewhere, but
/// only the first has the code a gRPC client retries on.
fn refused_before_accepted(status: &Status) -> Option<&'static str> {
    let text = format!("{status:?}");
    match status.code() {
        Code::Unavailable if text.contains("ConnectionRefused") || text.contains("tcp connect error") => {
            Some("REFUSED: connection refused (UNAVAILABLE)")
        }
        Code::Cancelled if text.contains("Canceled") && text.contains("connection closed") => {
            Some("REFUSED: unsent, connection closed (CANCELLED)")
        }
        // hyper's http2 `send_request` hands the request back, unsent, when
        // the connection is already shutting down (client/conn/http2.rs).
        Code::Cancelled if text.contains("Canceled") && text.contains("connection was not ready") => {
            Some("REFUSED: unsent, connection not ready (CANCELLED)")
        }
        // h2 gives a stream this error when it was opened after the server's
        // GOAWAY or above its last stream id: never processed (RFC 9113 §6.8).
        Code::Internal if text.contains("GoAway(") && text.contains("NO_ERROR, Remote") => {
            Some("REFUSED: after GOAWAY, never processed (INTERNAL)")
        }
        _ => None,
    }
}

/// The last `n` lines `process` printed.
fn tail(process: &Process, n: usize) -> String {
    let lines = process.output();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// One call: when it started and ended, and how it ended.
struct Call {
    start: Instant,
    end: Instant,
    result: Result<(), Status>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_on_each_service_fails_nothing_in_flight_and_exits_within_2_s() {
    const CALLERS: usize = 32;
    // Calls before SIGTERM: about ten per caller.
    const WARM: usize = 320;
    let began = Instant::now();
    let env = TestEnv::new().await;
    let token = env.token("province_officer", Some("38"), None);
    let registry = Process::start("registry", &env, &[]);
    let registry_url = registry.url();
    let certification = Process::start(
        "certification",
        &env,
        &[("OCOP_SERVICES__REGISTRY__URL", &registry_url)],
    );
    let certification_url = certification.url();
    let evaluation = Process::start("evaluation", &env, &[("OCOP_SERVICES__REGISTRY__URL", &registry_url)]);
    let promotion = Process::start(
        "promotion",
        &env,
        &[
            ("OCOP_SERVICES__REGISTRY__URL", &registry_url),
            ("OCOP_SERVICES__CERTIFICATION__URL", &certification_url),
        ],
    );
    for process in [&registry, &certification, &evaluation, &promotion] {
        connect(process).await;
    }
    // Promotion's followers hold WatchChanges streams open on the registry
    // and certification: their shutdown must not wait for them.
    let following = |source: &str| {
        promotion.output().iter().any(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|v| v["fields"]["message"] == "following the feed" && v["fields"]["source"] == source)
        })
    };
    poll::until_ok(
        "promotion to follow the registry and certification",
        Duration::from_secs(15),
        || {
            std::future::ready(if following("registry") && following("certification") {
                Ok(())
            } else {
                Err(Text(tail(&promotion, 40)))
            })
        },
    )
    .await;

    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (service, mut process) in [
        ("registry", registry),
        ("certification", certification),
        ("evaluation", evaluation),
        ("promotion", promotion),
    ] {
        let mut channels = Vec::new();
        for _ in 0..4 {
            channels.push(connect(&process).await);
        }
        let exited = Arc::new(AtomicBool::new(false));
        let sigterm_at: Arc<Mutex<Option<Instant>>> = Arc::default();
        let calls = Arc::new(Mutex::new(Vec::<Call>::new()));
        let mut callers = Vec::new();
        for c in 0..CALLERS {
            let channel = channels[c % channels.len()].clone();
            let (exited, sigterm_at, calls, token) = (exited.clone(), sigterm_at.clone(), calls.clone(), token.clone());
            callers.push(tokio::spawn(async move {
                while !exited.load(Ordering::SeqCst) {
                    let start = Instant::now();
                    let result = read_once(service, channel.clone(), &token).await;
                    let end = Instant::now();
                    let failed = result.is_err();
                    calls.lock().unwrap().push(Call { start, end, result });
                    // After SIGTERM, one refusal is enough: stop calling.
                    if failed && sigterm_at.lock().unwrap().is_some_and(|t| start >= t) {
                        break;
                    }
                }
            }));
        }
        eventually("calls before SIGTERM", || async {
            let calls = calls.lock().unwrap();
            (calls.iter().filter(|c| c.result.is_ok()).count() >= WARM).then_some(())
        })
        .await;

        let asked = Instant::now();
        *sigterm_at.lock().unwrap() = Some(asked);
        process.terminate();
        let what = format!("{service} to exit after SIGTERM");
        let status = poll::until_ok(&what, Duration::from_secs(15), || {
            std::future::ready(process.try_wait().ok_or_else(|| Text(process.output().join("\n"))))
        })
        .await;
        let took = asked.elapsed();
        exited.store(true, Ordering::SeqCst);
        for caller in callers {
            caller.await.expect("caller");
        }

        let calls = calls.lock().unwrap();
        let (mut before, mut in_flight, mut after) = (Tally::default(), Tally::default(), Tally::default());
        let mut in_flight_refused = Vec::new();
        for call in calls.iter() {
            let tally = if call.end < asked {
                &mut before
            } else if call.start < asked {
                &mut in_flight
            } else {
                &mut after
            };
            match &call.result {
                Ok(()) => tally.ok(),
                Err(status) => match refused_before_accepted(status) {
                    Some(why) => {
                        if call.start < asked {
                            in_flight_refused.push(format!("{status:?}"));
                        }
                        tally.failed(why.into(), status)
                    }
                    None => tally.failed(code_name(status.code()), status),
                },
            }
        }
        let grace_hit = process
            .output()
            .iter()
            .any(|l| l.contains("requests still running after the grace period"));
        let latencies: Vec<Duration> = calls
            .iter()
            .filter(|c| c.end < asked)
            .map(|c| c.end - c.start)
            .collect();
        let mean = latencies.iter().sum::<Duration>() / latencies.len().max(1) as u32;
        lines.push(format!(
            "{service}: requests={} mean_call={mean:?} before={:?} in_flight={:?} after_sigterm={:?} exit={status} \
             took={took:?}",
            calls.len(),
            before.by_code,
            in_flight.by_code,
            after.by_code,
        ));
        if !before.failures().is_empty() {
            problems.push(format!(
                "{service}: calls before SIGTERM failed: {:?}",
                before.first_message
            ));
        }
        let in_flight_failed: Vec<_> = in_flight
            .failures()
            .into_iter()
            .filter(|(code, _)| !code.starts_with("REFUSED"))
            .collect();
        if !in_flight_failed.is_empty() {
            problems.push(format!(
                "{service}: calls in flight at SIGTERM failed: {in_flight_failed:?} {:?}\nits last lines:\n{}",
                in_flight.first_message,
                tail(&process, 30)
            ));
        }
        let after_failed: Vec<_> = after
            .failures()
            .into_iter()
            .filter(|(code, _)| !code.starts_with("REFUSED"))
            .collect();
        if !after_failed.is_empty() {
            problems.push(format!(
                "{service}: calls after SIGTERM failed other than by being refused: {after_failed:?} {:?}",
                after.first_message
            ));
        }
        if status.code() != Some(0) {
            problems.push(format!("{service}: exit {status}:\n{}", process.output().join("\n")));
        }
        if took >= Duration::from_secs(2) {
            problems.push(format!(
                "{service}: SIGTERM to exit took {took:?}{}",
                if grace_hit {
                    " (the whole grace period: something held the shutdown, e.g. an open WatchChanges stream)"
                } else {
                    ""
                }
            ));
        }
        if !in_flight_refused.is_empty() {
            lines.push(format!("{service} in-flight refusals: {in_flight_refused:?}"));
        }
    }
    println!("faults/sigterm: {} took={:?}", lines.join(" | "), began.elapsed());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
