//! The hardening issue's fault suite, authorization: every write RPC of
//! every service × every role × a token of the deployment's own province
//! (Thanh Hóa, 38) and of another (Phú Thọ, 25) × bad tokens, against the
//! deployment of 38, with requests naming the deployment's own data and the
//! other province's (which a deployment of 25 wrote into the same tables),
//! and every refused caller again with the very request an allowed caller
//! just succeeded with. Zero unexpected successes.
//!
//! Nothing here lists RPCs: which methods are writes follows from their
//! names ([`classify`], with the few exceptions in one list), and each
//! request is generated from the method's input type, its fields filled by
//! what they are for (a resource name of the pattern its comment quotes, the
//! current etag of that resource, a province or commune code, a new UUID),
//! so a new write RPC is in the matrix the day it is added.

use crate::support::fault;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use fault::*;
use ocop_kit::auth::Role;
use ocop_proto::boundary::Method;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value};

/// Names that say a method only reads.
const READ_PREFIXES: &[&str] = &[
    "Get", "List", "Search", "BatchGet", "Verify", "Export", "Watch", "Resolve",
];

/// Names that say a method writes.
const WRITE_PREFIXES: &[&str] = &[
    "Create",
    "Update",
    "Delete",
    "Import",
    "Review",
    "Submit",
    "Open",
    "Start",
    "Cancel",
    "Publish",
    "Disqualify",
    "Record",
    "Save",
    "Issue",
    "Revoke",
    "Add",
    "Remove",
    "Set",
    "Approve",
    "Propose",
];

/// The methods whose names do not say what they do, and what they do.
const EXCEPTIONS: &[(&str, Access)] = &[
    // Recomputes a published result from what was stored and says whether it
    // is the same: writes nothing.
    ("/ocop.evaluation.v1.EvaluationService/RecomputeResult", Access::Read),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Write,
}

/// Read or write, from the method's name; `None` for a name that says
/// neither (the test fails, naming it, until it is classified).
fn classify(method: &Method) -> Option<Access> {
    if let Some((_, access)) = EXCEPTIONS.iter().find(|(path, _)| *path == method.path) {
        return Some(*access);
    }
    let starts = |prefixes: &[&str]| {
        prefixes.iter().any(|p| {
            method
                .name
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
    };
    match (starts(READ_PREFIXES), starts(WRITE_PREFIXES)) {
        (true, false) => Some(Access::Read),
        (false, true) => Some(Access::Write),
        _ => None,
    }
}

/// The roles that may ever succeed with a write, on a province deployment,
/// for data of their own province. By the words of the method's name:
/// council members write score sheets, commune officers ideas and commune
/// assessments (with the province's officers), national officers the
/// central rounds and the certificates they lead to; the province's
/// officers everything else. Nobody else writes anything.
fn writers(method: &Method) -> &'static [Role] {
    if method.name.contains("ScoreSheet") {
        &[Role::CouncilMember]
    } else if method.name.contains("IdeaRegistration")
        || method.name.contains("CommuneAssessment")
        || method.name.contains("CommuneReport")
        || method.name.contains("ProductDossier")
    {
        &[Role::CommuneOfficer, Role::ProvinceOfficer]
    } else if method.service == EVALUATION || method.service == CERTIFICATION {
        &[Role::ProvinceOfficer, Role::NationalOfficer]
    } else {
        &[Role::ProvinceOfficer]
    }
}

/// Runs first what makes the resources the others act on, and last what
/// ends them.
fn rank(method: &Method) -> (usize, usize) {
    const ORDER: &[&str] = &[
        "Create",
        "Import",
        "Set",
        "Issue",
        "Open",
        "Add",
        "Update",
        "Record",
        "Save",
        "Submit",
        "Start",
        "Disqualify",
        "Review",
        "Publish",
        "Approve",
        "Propose",
        "Remove",
        "Revoke",
        "Cancel",
        "Delete",
    ];
    let verb = ORDER
        .iter()
        .position(|v| method.name.starts_with(v))
        .unwrap_or(ORDER.len());
    let service = SERVICES
        .iter()
        .position(|s| *s == method.service)
        .unwrap_or(SERVICES.len());
    (service, verb)
}

/// Who calls.
#[derive(Debug, Clone)]
struct Caller {
    label: String,
    token: Option<String>,
    /// The role, for a token the deployment accepts.
    role: Option<Role>,
    /// The province claim.
    province: Option<&'static str>,
}

impl Caller {
    fn bad(&self) -> bool {
        self.role.is_none()
    }
}

/// Whether `caller` may succeed with `method` on data of `data_province`
/// (the deployment serves [`OWN`]).
fn may_succeed(method: &Method, caller: &Caller, data_province: &str) -> bool {
    let Some(role) = caller.role else { return false };
    if data_province != OWN {
        return false;
    }
    let bound = matches!(role, Role::CommuneOfficer | Role::ProvinceOfficer | Role::CouncilMember);
    if bound && caller.province != Some(OWN) {
        return false;
    }
    writers(method).contains(&role)
}

fn callers(world: &World) -> Vec<Caller> {
    let mut callers = Vec::new();
    for role in Role::ALL {
        let provinces: &[Option<&'static str>] = match role {
            Role::CommuneOfficer | Role::ProvinceOfficer | Role::CouncilMember => &[Some(OWN), Some(OTHER)],
            Role::NationalOfficer | Role::Service => &[None, Some(OTHER)],
        };
        for province in provinces {
            let commune = match (role, province) {
                (Role::CommuneOfficer, Some(p)) => Some(world.communes[*p].as_str()),
                _ => None,
            };
            // Council members sign as the setup's secretary, whose sheets are the newest names.
            let subject = if role == Role::CouncilMember {
                "thu-ky"
            } else {
                "tester"
            };
            callers.push(Caller {
                label: format!("{}/{}", role.as_str(), province.unwrap_or("-")),
                token: Some(world.token(subject, role.as_str(), *province, commune)),
                role: Some(role),
                province: *province,
            });
        }
    }
    let env = &world.env;
    let pem = std::fs::read_to_string(env.dir.join("signing.pem")).expect("signing key");
    let elsewhere = ocop_kit::auth::Signer::from_pem(&pem, "another-deployment").expect("signer");
    let (other_pem, _) = ocop_kit::auth::generate_keys().expect("keys");
    let unknown_key = ocop_kit::auth::Signer::from_pem(&other_pem, ocop_testkit::ISSUER).expect("signer");
    let own_key = || ocop_kit::auth::Signer::from_pem(&pem, ocop_testkit::ISSUER).expect("signer");
    let (no_audience, other_audience) = (own_key(), own_key().with_audience("ocop:25"));
    let officer = |signer: &ocop_kit::auth::Signer, ttl: i64| {
        signer
            .issue("tester", "province_officer", Some(OWN), None, ttl)
            .expect("sign")
    };
    // A council member's token made a province officer's, keeping the signature.
    let council = world.token("tester", "council_member", Some(OWN), None);
    let mut parts: Vec<String> = council.split('.').map(str::to_owned).collect();
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64")).expect("utf-8");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.replace("\"council_member\"", "\"province_officer\""));
    let bad: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("malformed", Some("not-a-jwt".into())),
        (
            "malformed JWT",
            Some("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.AAAA".into()),
        ),
        ("expired", Some(officer(&env.signer, -3600))),
        ("wrong issuer", Some(officer(&elsewhere, 600))),
        ("bad signature", Some(parts.join("."))),
        ("unknown key", Some(officer(&unknown_key, 600))),
        ("no audience", Some(officer(&no_audience, 600))),
        ("another deployment's audience", Some(officer(&other_audience, 600))),
        ("lifetime too long", Some(officer(&env.signer, 400 * 86_400))),
        ("unknown role", Some(world.token("tester", "mayor", Some(OWN), None))),
        (
            "no jurisdiction",
            Some(world.token("tester", "province_officer", None, None)),
        ),
    ];
    callers.extend(bad.into_iter().map(|(label, token)| Caller {
        label: format!("bad token: {label}"),
        token,
        role: None,
        province: Some(OWN),
    }));
    callers
}

/// Today, as (year, month, day) in UTC.
fn today() -> (i32, i32, i32) {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year as i32, month as i32, day as i32)
}

/// Fills a request with what each field is for, for data of `province`.
struct Filler<'a> {
    pools: &'a Pools,
    province: &'a str,
    commune: &'a str,
    seq: u64,
}

impl Filler<'_> {
    fn message(&mut self, desc: &MessageDescriptor, depth: usize, index: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        if desc.full_name() == "ocop.common.v1.Date" {
            let (y, m, d) = today();
            for (name, value) in [("year", y), ("month", m), ("day", d)] {
                if let Some(f) = desc.get_field_by_name(name) {
                    let value = match f.kind() {
                        Kind::Uint32 | Kind::Fixed32 => Value::U32(value as u32),
                        _ => Value::I32(value),
                    };
                    message.set_field(&f, value);
                }
            }
            return message;
        }
        if depth > 3 || desc.full_name().starts_with("google.protobuf.") {
            return message;
        }
        for field in desc.fields() {
            if field
                .containing_oneof()
                .is_some_and(|o| o.fields().any(|f| message.has_field(&f)))
            {
                continue;
            }
            let value = if field.is_map() {
                None
            } else if field.is_list() {
                let n = if matches!(field.kind(), Kind::Message(_)) { 3 } else { 1 };
                let items: Vec<Value> = (0..n).filter_map(|i| self.value(&field, depth, i)).collect();
                (!items.is_empty()).then_some(Value::List(items))
            } else {
                self.value(&field, depth, index)
            };
            if let Some(value) = value {
                message.set_field(&field, value);
            }
        }
        // An update names the fields it changes: a text field it set.
        if let Some(mask) = desc.get_field_by_name("update_mask") {
            let edited = desc
                .fields()
                .find_map(|f| match (f.kind(), message.get_field(&f).as_ref()) {
                    (Kind::Message(m), Value::Message(_)) if !m.full_name().starts_with("google.") => {
                        m.fields().map(|f| f.name().to_owned()).find(|n| {
                            [
                                "display_name",
                                "legal_name",
                                "title",
                                "description",
                                "summary",
                                "address",
                            ]
                            .contains(&n.as_str())
                        })
                    }
                    _ => None,
                });
            if let (Some(path), Kind::Message(mask_desc)) = (edited, mask.kind()) {
                let mut value = DynamicMessage::new(mask_desc);
                value.set_field_by_name("paths", Value::List(vec![Value::String(path)]));
                message.set_field(&mask, Value::Message(value));
            }
        }
        message
    }

    fn value(&mut self, field: &FieldDescriptor, depth: usize, index: usize) -> Option<Value> {
        self.seq += 1;
        let seq = self.seq;
        let name = field.name();
        Some(match field.kind() {
            Kind::String => Value::String(self.string(field, index)?),
            Kind::Bytes if name == "csv" => Value::Bytes(Bytes::from(self.csv())),
            Kind::Bytes => return None,
            // The commune's four criteria met; a delete that goes through.
            Kind::Bool => Value::Bool(name.starts_with("local_") || name == "force"),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(match name {
                "year" => today().0,
                "batch" => 100 + seq as i32,
                "page_size" => 10,
                "within_days" => 30,
                "min_stars" | "stars" => 3,
                "max_stars" => 5,
                "value" => 10,
                _ => 1,
            }),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
                Value::I64(if name.ends_with("_vnd") { 1_000_000 } else { 1 })
            }
            Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
            Kind::Float => Value::F32(1.0),
            Kind::Double => Value::F64(1.0),
            Kind::Enum(e) => {
                if name == "state" {
                    return None;
                }
                let known: Vec<_> = e.values().filter(|v| v.number() != 0).collect();
                let chosen = known
                    .iter()
                    .find(|v| v.name().contains("PROVINCE"))
                    .or_else(|| known.get(index % known.len().max(1)))?;
                Value::EnumNumber(chosen.number())
            }
            Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp" => return None,
            Kind::Message(m) => Value::Message(self.message(&m, depth + 1, index)),
        })
    }

    fn string(&mut self, field: &FieldDescriptor, index: usize) -> Option<String> {
        let seq = self.seq;
        let name = field.name();
        if name == "etag" {
            // Filled in per call, with the resource's current etag.
            return None;
        }
        if let Some(pattern) = pattern_of(field) {
            if let Some(existing) = self.pools.newest(self.province, &pattern) {
                return Some(existing.to_owned());
            }
            // None of this province's: a name of the right shape that does not exist.
            return Some(pattern_name(&pattern, self.province));
        }
        Some(match name {
            "request_id" => uuid(seq),
            n if n.ends_with("province_code") => self.province.to_owned(),
            n if n.ends_with("commune_code") => self.commune.to_owned(),
            "district_code" | "criteria_decision" => return None,
            n if n.ends_with("_id") => return None,
            "id" => format!("t{seq}"),
            "group_code" => "thuc-pham".into(),
            "subgroup_code" => "rau-cu-qua-hat-tuoi".into(),
            "registration_number" => format!("{}{:08}", self.province, 10_000 + seq),
            "phone" => "0912345678".into(),
            "email" => format!("htx{seq}@example.vn"),
            "url" => format!("https://shopee.vn/product/{seq}"),
            "platform" => "shopee".into(),
            "user" => flows_council(index).into(),
            "document" => "Quyết định số 12/QĐ-UBND".into(),
            // Short enough for any field (a booth's label is at most 20).
            _ => format!("Mật ong {seq}"),
        })
    }

    /// A one-row import in the README's columns.
    fn csv(&mut self) -> String {
        let seq = self.seq;
        format!(
            "subject_id,registration_number,subject_kind,legal_name,representative_name,representative_is_woman,\
             representative_is_ethnic_minority,phone,email,address,commune_code,subject_state,product_id,product_name,\
             group_code,subgroup_code,description,origin_commune_code,raw_material_area,product_state,standards\n\
             ,{p}{n:08},cooperative,HTX Nhập {n},Lê Thị Lan,true,false,,,,{c},,,Mật ong {n},thuc-pham,\
             rau-cu-qua-hat-tuoi,,{c},,,\n",
            p = self.province,
            n = 20_000 + seq,
            c = self.commune
        )
    }
}

fn flows_council(index: usize) -> &'static str {
    ocop_testkit::flows::COUNCIL[index % 3].0
}

/// A name of `pattern` whose ids name nothing.
fn pattern_name(pattern: &str, province: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(&format!("khong-co-{province}"));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn uuid(seq: u64) -> String {
    let mut rng = Rng::new(seq ^ 0x5eed);
    let b = rng.bytes(16);
    format!(
        "{}-{}-4{}-8{}-{}",
        hex(&b[..4]),
        hex(&b[4..6]),
        &hex(&b[6..8])[1..],
        &hex(&b[8..10])[1..],
        hex(&b[10..16])
    )
}

/// Reads the current etag of resources by their Get methods.
struct Etags<'a> {
    own: &'a Deployment,
    pool: &'a DescriptorPool,
    /// (pattern, Get method) for each Get taking a `name`.
    gets: Vec<(String, &'static Method)>,
    reader: String,
}

impl<'a> Etags<'a> {
    fn new(own: &'a Deployment, reader: String, pool: &'a DescriptorPool, methods: &[&'static Method]) -> Etags<'a> {
        let gets = methods
            .iter()
            .filter(|m| m.name.starts_with("Get"))
            .filter_map(|m| {
                let field = input_of(pool, m).get_field_by_name("name")?;
                Some((pattern_of(&field)?, *m))
            })
            .collect();
        Etags {
            own,
            pool,
            gets,
            reader,
        }
    }

    async fn of(&self, name: &str) -> Option<String> {
        let (_, get) = self.gets.iter().find(|(p, _)| matches(p, name))?;
        let mut request = DynamicMessage::new(input_of(self.pool, get));
        request.set_field_by_name("name", Value::String(name.to_owned()));
        let channel = self.own.channel(get.service);
        let body = Bytes::from(request.encode_to_vec());
        let Outcome::Ok(answer) = call(channel, get, body, Some(&self.reader), Duration::from_secs(5)).await else {
            return None;
        };
        let answer = DynamicMessage::decode(output_of(self.pool, get), answer).ok()?;
        answer.fields().find_map(|(_, v)| match v {
            Value::Message(m) => m.get_field_by_name("etag").and_then(|e| e.as_str().map(str::to_owned)),
            _ => None,
        })
    }

    /// Sets every `etag` of `message` to the current one of the resource it
    /// goes with: the message's `name`, or the first name it holds.
    async fn fill(&self, message: &mut DynamicMessage) {
        let named = message
            .descriptor()
            .fields()
            .filter(|f| matches!(f.kind(), Kind::String) && !f.is_list() && pattern_of(f).is_some())
            .find_map(|f| {
                message
                    .get_field(&f)
                    .as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            });
        if message.descriptor().get_field_by_name("etag").is_some()
            && let Some(name) = &named
            && let Some(etag) = self.of(name).await
        {
            message.set_field_by_name("etag", Value::String(etag));
        }
        let nested: Vec<FieldDescriptor> = message
            .descriptor()
            .fields()
            .filter(|f| matches!(f.kind(), Kind::Message(_)) && !f.is_list() && !f.is_map() && message.has_field(f))
            .collect();
        for field in nested {
            if let Value::Message(inner) = message.get_field_mut(&field) {
                Box::pin(self.fill(inner)).await;
            }
        }
    }
}

/// The resource names in an answer, to act on later.
fn names_in(message: &DynamicMessage, out: &mut Vec<String>) {
    for (field, value) in message.fields() {
        match value {
            Value::String(s) if field.name() == "name" && pattern_of(&field).is_some() => out.push(s.clone()),
            Value::Message(m) => names_in(m, out),
            Value::List(items) => {
                for item in items {
                    if let Value::Message(m) = item {
                        names_in(m, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// One cell that succeeded where it should not have.
struct Unexpected {
    method: &'static str,
    caller: String,
    data: &'static str,
    why: &'static str,
    request: String,
    input: Vec<u8>,
}

#[derive(Default)]
struct Matrix {
    cells: usize,
    replays: usize,
    expected_ok: usize,
    refused_codes: BTreeMap<&'static str, usize>,
    allowed_codes: BTreeMap<&'static str, usize>,
    unexpected: Vec<Unexpected>,
    /// Methods a permitted caller succeeded with: the requests were good
    /// enough that the refusals of the others were authorization's.
    proven: Vec<&'static str>,
    national_ok: Vec<&'static str>,
    /// Refused cells by why they are refused, and code.
    by_why: BTreeMap<(&'static str, &'static str), usize>,
    /// Refused cells by method, and code.
    by_method: BTreeMap<(&'static str, &'static str), usize>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_write_rpc_refuses_every_caller_that_may_not_write() {
    let setup = Instant::now();
    let mut world = World::start(true).await;
    println!("authorization: world ready in {:.1?}", setup.elapsed());
    let pool = descriptors();
    let methods = served_methods();

    // Every method is a read or a write, and the exceptions are still methods.
    let unclassified: Vec<_> = methods
        .iter()
        .filter(|m| classify(m).is_none())
        .map(|m| m.path)
        .collect();
    assert!(
        unclassified.is_empty(),
        "classify these methods (a name prefix in authorization.rs, or an exception with a comment): {unclassified:?}"
    );
    for (path, _) in EXCEPTIONS {
        assert!(
            methods.iter().any(|m| m.path == *path),
            "exception {path} is no longer a method"
        );
    }
    let mut writes: Vec<&'static Method> = methods
        .iter()
        .copied()
        .filter(|m| classify(m) == Some(Access::Write))
        .collect();
    writes.sort_by_key(|m| rank(m));
    let public: Vec<&str> = [
        ocop_registry::spec(),
        ocop_evaluation::spec(),
        ocop_certification::spec(),
        ocop_promotion::spec(),
    ]
    .iter()
    .flat_map(|s| s.public_methods.iter().copied())
    .collect();
    let public_writes: Vec<_> = writes
        .iter()
        .filter(|m| public.contains(&m.path))
        .map(|m| m.path)
        .collect();
    assert!(
        public_writes.is_empty(),
        "writes served without a token: {public_writes:?}"
    );
    println!(
        "authorization: {} methods: {} reads, {} writes; public: {public:?}",
        methods.len(),
        methods.len() - writes.len(),
        writes.len()
    );

    // What ends a resource runs once, last; the rest again while a pass
    // proves more (an idea accepted in one pass lets the next make its plan).
    let (mut ending, building): (Vec<&'static Method>, Vec<&'static Method>) = writes
        .iter()
        .partition(|m| ENDING.iter().any(|v| m.name.starts_with(v)));
    // Children before their parents (a product before its producer).
    let depth = |m: &Method| {
        let input = input_of(&pool, m);
        let name = input.get_field_by_name("name");
        name.and_then(|f| pattern_of(&f)).map_or(0, |p| p.matches('/').count())
    };
    ending.sort_by_key(|m| std::cmp::Reverse(depth(m)));

    let callers = callers(&world);
    let reader = world.token("tester", "national_officer", None, None);
    let seeding = Instant::now();
    let seeded = seed_other_province(&mut world, &callers, &pool, &methods, &building, &reader).await;
    println!(
        "authorization: which made {} new resources of province {OTHER}, in {:.1?}",
        seeded,
        seeding.elapsed()
    );
    let World {
        own, pools, communes, ..
    } = &mut world;
    let etags = Etags::new(own, reader, &pool, &methods);
    let verbose = std::env::var_os("OCOP_AUTHZ_VERBOSE").is_some();
    let started = Instant::now();
    let mut matrix = Matrix::default();
    let mut passes = 0;
    for pass in 0..3 {
        let before = matrix.proven.len();
        let todo: Vec<&'static Method> = building
            .iter()
            .copied()
            .filter(|m| pass == 0 || !matrix.proven.contains(&m.path))
            .collect();
        if todo.is_empty() {
            break;
        }
        passes += 1;
        for method in todo {
            run(
                method,
                &callers,
                &pool,
                own,
                pools,
                communes,
                &etags,
                &mut matrix,
                verbose,
            )
            .await;
        }
        if pass > 0 && matrix.proven.len() == before {
            break;
        }
    }
    for method in ending {
        run(
            method,
            &callers,
            &pool,
            own,
            pools,
            communes,
            &etags,
            &mut matrix,
            verbose,
        )
        .await;
    }
    let elapsed = started.elapsed();
    own.assert_serving().await;

    let show = |codes: &BTreeMap<&str, usize>| {
        codes
            .iter()
            .map(|(c, n)| format!("{c}={n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "authorization: {} writes × {} callers ({} roles × 2 provinces, {} bad tokens) × 2 data provinces = {} cells \
         + {} replays, in {passes} passes over what builds and one over what ends, in {elapsed:.1?}",
        writes.len(),
        callers.len(),
        Role::ALL.len(),
        callers.iter().filter(|c| c.bad()).count(),
        matrix.cells,
        matrix.replays
    );
    println!("authorization:   refused callers: {}", show(&matrix.refused_codes));
    println!(
        "authorization:   permitted callers: {} ({} OK)",
        show(&matrix.allowed_codes),
        matrix.expected_ok
    );
    println!(
        "authorization:   writes a permitted caller succeeded with ({}/{}): {:?}",
        matrix.proven.len(),
        writes.len(),
        matrix
            .proven
            .iter()
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .collect::<Vec<_>>()
    );
    println!(
        "authorization:   of them by a national officer: {:?}",
        matrix.national_ok
    );
    let mut whys: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((why, code), n) in &matrix.by_why {
        whys.entry(why).or_default().push(format!("{code}={n}"));
    }
    for (why, codes) in whys {
        println!("authorization:   refused for {why}: {}", codes.join(", "));
    }
    for method in writes.iter().filter(|m| !matrix.proven.contains(&m.path)) {
        let codes: Vec<String> = matrix
            .by_method
            .iter()
            .filter(|((p, _), _)| *p == method.path)
            .map(|((_, c), n)| format!("{c}={n}"))
            .collect();
        println!(
            "authorization:   no permitted caller succeeded with {}; its refused callers got {}",
            method.name,
            codes.join(", ")
        );
    }
    println!("authorization:   unexpected successes: {}", matrix.unexpected.len());
    for u in &matrix.unexpected {
        println!(
            "authorization UNEXPECTED OK: {} by {} on province {}'s data ({})\n  request: {}\n  input hex: {}",
            u.method,
            u.caller,
            u.data,
            u.why,
            u.request,
            hex(&u.input)
        );
    }
    assert!(
        matrix.unexpected.is_empty(),
        "{} unexpected successes; see above",
        matrix.unexpected.len()
    );
}

/// Makes the other province's data of every kind its deployment serves, by
/// sending its own officers' generated requests to it (three passes, as the
/// matrix does), so that the matrix names resources of that province that
/// exist. Returns how many names it made.
async fn seed_other_province(
    world: &mut World,
    callers: &[Caller],
    pool: &DescriptorPool,
    methods: &[&'static Method],
    building: &[&'static Method],
    reader: &str,
) -> usize {
    let World {
        other, pools, communes, ..
    } = world;
    let other = other.as_ref().expect("the other province's deployment");
    let etags = Etags::new(other, reader.to_owned(), pool, methods);
    let commune = communes[OTHER].clone();
    let before = pools.names.get(OTHER).map_or(0, Vec::len);
    let mut done: Vec<&str> = Vec::new();
    for pass in 0..3u64 {
        let todo: Vec<&'static Method> = building
            .iter()
            .copied()
            .filter(|m| other.channels.contains_key(m.service) && !done.contains(&m.path))
            .collect();
        for method in todo {
            let Some(caller) = writers(method).iter().find_map(|role| {
                callers
                    .iter()
                    .find(|c| c.role == Some(*role) && c.province == Some(OTHER))
            }) else {
                continue;
            };
            let mut request = Filler {
                pools,
                province: OTHER,
                commune: &commune,
                seq: 9_000_000 + pass * 100_000 + done.len() as u64 * 1000,
            }
            .message(&input_of(pool, method), 0, 0);
            etags.fill(&mut request).await;
            let body = Bytes::from(request.encode_to_vec());
            if let Outcome::Ok(answer) = call(
                other.channel(method.service),
                method,
                body,
                caller.token.as_deref(),
                LIMIT,
            )
            .await
            {
                done.push(method.path);
                if let Ok(answer) = DynamicMessage::decode(output_of(pool, method), answer) {
                    let mut names = Vec::new();
                    names_in(&answer, &mut names);
                    for name in names {
                        pools.add(OTHER, name);
                    }
                }
            }
        }
    }
    let names: Vec<_> = done.iter().map(|p| p.rsplit('/').next().unwrap_or(p)).collect();
    println!(
        "authorization: province {OTHER}'s own deployment accepted {} of its officers' generated writes: {names:?}",
        names.len()
    );
    pools.names.get(OTHER).map_or(0, Vec::len) - before
}

/// Verbs that end what they act on: run once, after everything else.
const ENDING: &[&str] = &["Revoke", "Cancel", "Delete"];

/// The cells of one write, on data of each province: every refused caller
/// (at once: none of them may change anything), then each permitted one,
/// then the refused again with the request a permitted caller succeeded with.
#[allow(clippy::too_many_arguments)]
async fn run(
    method: &'static Method,
    callers: &[Caller],
    pool: &DescriptorPool,
    own: &Deployment,
    pools: &mut Pools,
    communes: &BTreeMap<String, String>,
    etags: &Etags<'_>,
    matrix: &mut Matrix,
    verbose: bool,
) {
    let channel = own.channel(method.service).clone();
    let desc = input_of(pool, method);
    for data in [OWN, OTHER] {
        let commune = communes[data].clone();
        let template = Filler {
            pools,
            province: data,
            commune: &commune,
            seq: (matrix.cells as u64 + 1) * 1000,
        }
        .message(&desc, 0, 0);
        let (allowed, refused): (Vec<&Caller>, Vec<&Caller>) =
            callers.iter().partition(|c| may_succeed(method, c, data));

        let mut request = template.clone();
        etags.fill(&mut request).await;
        let body = request.encode_to_vec();
        let mut cells = tokio::task::JoinSet::new();
        for (i, caller) in refused.iter().enumerate() {
            let (channel, body, token) = (channel.clone(), Bytes::from(body.clone()), caller.token.clone());
            cells.spawn(async move { (i, call(&channel, method, body, token.as_deref(), LIMIT).await) });
        }
        let mut outcomes: Vec<_> = cells.join_all().await;
        outcomes.sort_by_key(|(i, _)| *i);
        for (i, outcome) in outcomes {
            matrix.record(method, refused[i], data, &outcome, &request, &body, verbose);
        }

        let mut succeeded: Option<DynamicMessage> = None;
        for caller in &allowed {
            let mut request = template.clone();
            etags.fill(&mut request).await;
            let body = request.encode_to_vec();
            let outcome = call(
                &channel,
                method,
                Bytes::from(body.clone()),
                caller.token.as_deref(),
                LIMIT,
            )
            .await;
            if matrix.record(method, caller, data, &outcome, &request, &body, verbose)
                && let Outcome::Ok(answer) = &outcome
            {
                if let Ok(answer) = DynamicMessage::decode(output_of(pool, method), answer.clone()) {
                    let mut names = Vec::new();
                    names_in(&answer, &mut names);
                    for name in names {
                        pools.add(data, name);
                    }
                }
                succeeded.get_or_insert(request);
            }
        }

        // An idempotent replay of a permitted caller's request must not
        // answer the refused either.
        if let Some(request) = succeeded {
            let body = request.encode_to_vec();
            let mut cells = tokio::task::JoinSet::new();
            for (i, caller) in refused.iter().enumerate() {
                let (channel, body, token) = (channel.clone(), Bytes::from(body.clone()), caller.token.clone());
                cells.spawn(async move { (i, call(&channel, method, body, token.as_deref(), LIMIT).await) });
            }
            let mut outcomes: Vec<_> = cells.join_all().await;
            outcomes.sort_by_key(|(i, _)| *i);
            for (i, outcome) in outcomes {
                let caller = refused[i];
                matrix.replays += 1;
                *matrix.refused_codes.entry(outcome.label()).or_default() += 1;
                if outcome.is_ok() {
                    matrix.unexpected.push(Unexpected {
                        method: method.path,
                        caller: caller.label.clone(),
                        data,
                        why: "replay of a permitted caller's request",
                        request: request.to_text_format(),
                        input: body.clone(),
                    });
                }
            }
        }
    }
}

/// No single answer may take longer.
const LIMIT: Duration = Duration::from_secs(10);

impl Matrix {
    /// Counts one cell; whether it was a permitted caller's success.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        method: &'static Method,
        caller: &Caller,
        data: &'static str,
        outcome: &Outcome,
        request: &DynamicMessage,
        body: &[u8],
        verbose: bool,
    ) -> bool {
        self.cells += 1;
        let may = may_succeed(method, caller, data);
        let codes = if may {
            &mut self.allowed_codes
        } else {
            &mut self.refused_codes
        };
        *codes.entry(outcome.label()).or_default() += 1;
        if !may {
            *self
                .by_why
                .entry((why(method, caller, data), outcome.label()))
                .or_default() += 1;
            *self.by_method.entry((method.path, outcome.label())).or_default() += 1;
        }
        if let Outcome::Status(s) = outcome
            && (matches!(s.code(), tonic::Code::Internal | tonic::Code::Unknown)
                || (verbose
                    && (may || !matches!(s.code(), tonic::Code::PermissionDenied | tonic::Code::Unauthenticated))))
        {
            println!(
                "authorization: {} for {} on {data}'s data{}: {} {}",
                method.path,
                caller.label,
                if may { "" } else { " (refused)" },
                code_name(s.code()),
                s.message()
            );
        }
        match (outcome.is_ok(), may) {
            (true, true) => {
                self.expected_ok += 1;
                if caller.role == Some(Role::NationalOfficer) && !self.national_ok.contains(&method.path) {
                    self.national_ok.push(method.path);
                }
                if !self.proven.contains(&method.path) {
                    self.proven.push(method.path);
                }
                true
            }
            (true, false) => {
                self.unexpected.push(Unexpected {
                    method: method.path,
                    caller: caller.label.clone(),
                    data,
                    why: why(method, caller, data),
                    request: request.to_text_format(),
                    input: body.to_vec(),
                });
                false
            }
            _ => false,
        }
    }
}

fn why(method: &Method, caller: &Caller, data: &str) -> &'static str {
    match caller.role {
        None => "a bad token",
        Some(role) if !writers(method).contains(&role) => "a role that may not write this",
        Some(_) if data != OWN => "another province's data, on this deployment",
        Some(_) => "a token of another province",
    }
}
