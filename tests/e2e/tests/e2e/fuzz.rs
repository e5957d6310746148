//! The hardening issue's fault suite, typed and random input: every RPC of
//! every service (and the change feed each serves), read from the
//! descriptors so that a new RPC is covered without a line here, is sent
//! messages generated from its input type (empty, ASCII, Vietnamese, very
//! long, NUL, control and bidirectional characters, resource names real and
//! made up, filters, huge and negative numbers, enum numbers valid and not,
//! nested and repeated fields) and bytes that are no message at all
//! (random, mutated, truncated, invalid UTF-8, lengths past the end, deep
//! groups, overlong varints). No answer may be INTERNAL, UNKNOWN or
//! UNAVAILABLE, none may fail to come, and every service still answers
//! health afterwards.
//!
//! The run's seed is printed; `OCOP_FUZZ_SEED=<seed>` replays it,
//! `OCOP_FUZZ_ROUNDS=<n>` sends n times as many inputs, and
//! `OCOP_FUZZ_VERBOSE=1` prints every answer and the codes per method. Each
//! failure is printed with its method, token and input in hex.

use crate::support::fault;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fault::*;
use ocop_proto::boundary::Method;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, Value};

/// Typed messages per method (the first is the empty message).
const TYPED: usize = 20;
/// Byte strings per method that are mostly no valid message.
const RANDOM: usize = 10;
/// Nesting depth of generated messages.
const MAX_DEPTH: usize = 4;
/// No single answer may take longer.
const CALL_LIMIT: Duration = Duration::from_secs(10);

const VIETNAMESE: &[&str] = &[
    "Mật ong rừng Như Xuân",
    "Hợp tác xã Chè Shan tuyết Bản Phố",
    "Nước mắm Ninh Vân",
    "Bánh gai Tứ Trụ",
    "Lò Thị Hoa",
    "Nguyễn Văn Ấn",
    "Xã Như Xuân, tỉnh Thanh Hóa",
    "Phường Hàm Rồng",
    "ỨỪỬỮỰ ƯƠ ươ đĐ",
    "Toàn bộ nguyên liệu nhập khẩu; giả mạo hồ sơ",
];

/// Characters the boundary refuses (controls, bidirectional formatting) and
/// a few it allows but that often trip code (line breaks, zero width).
const ODD_CHARS: &[char] = &[
    '\0',
    '\u{1}',
    '\u{8}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{9f}',
    '\n',
    '\r',
    '\t',
    '\u{202A}',
    '\u{202B}',
    '\u{202C}',
    '\u{202D}',
    '\u{202E}',
    '\u{2066}',
    '\u{2067}',
    '\u{2068}',
    '\u{2069}',
    '\u{200E}',
    '\u{200F}',
    '\u{061C}',
    '\u{200B}',
    '\u{FEFF}',
    '\u{FFFD}',
    '\u{E000}',
    '\u{FFFF}',
    '\u{10FFFF}',
    '\u{0301}',
    '🍯',
];

const FILTERS: &[&str] = &[
    "province_code = \"38\"",
    "province_code = \"25\" AND kind = cooperative",
    "level = commune AND province_code = \"38\" AND in_force_at = \"2026-01-01\"",
    "stars = 4",
    "stars >= 3",
    "state = draft OR 1=1",
    "a = \"b\" AND",
    "AND AND AND",
    "\"unterminated",
    "province_code = \"",
    "commune_code = \"14758\" AND commune_code = \"14758\"",
    "year = 99999999999999999999",
    "in_force_at = \"2026-13-45\"",
    "certifiable = maybe",
    "((province_code = \"38\"))",
    "province_code=38",
    "product = \"subjects/-/products/-\"",
    "create_time desc",
    "legal_name, create_time",
    "display_name desc desc",
];

const INJECTIONS: &[&str] = &[
    "' OR '1'='1",
    "'; DROP TABLE registry.subjects; --",
    "%",
    "_",
    "\\",
    "%00",
    "$1",
    "\\x00",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "${jndi:ldap://x}",
    "\u{FF07} OR 1=1",
];

const NUMERIC: &[&str] = &[
    "0",
    "-1",
    "38",
    "25",
    "14758",
    "99999999999999999999",
    "1e309",
    "NaN",
    "2026-02-30",
    "0x1F",
    "٣٨",
    "2025",
    "2004",
];

const CSV: &[&str] = &[
    "",
    "a,b,c\n1,2,3",
    "\"unterminated,quote\n",
    "registration_number,legal_name\n2800000001,\"HTX \"\"A\"\"\"\n",
    ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n,,,,\n",
    "\u{FEFF}kind,legal_name,registration_number,commune_code\ncooperative,HTX Mật ong,2800000009,14758\n",
];

/// Made-up names of every shape the services parse.
const SHAPES: &[&str] = &[
    "subjects/{}",
    "subjects/{}/products/{}",
    "subjects/-",
    "subjects/-/products/-",
    "subjects/{}/products/{}/ideas/{}",
    "subjects/{}/products/{}/plans/{}",
    "subjects/{}/products/{}/plans/{}/supportRecords/{}",
    "evaluationRounds/{}",
    "evaluationRounds/-",
    "evaluationRounds/{}/entries/{}",
    "evaluationRounds/{}/entries/{}/result",
    "evaluationRounds/{}/entries/{}/scoreSheets/{}",
    "certificates/{}",
    "certificates/38-{}",
    "salesPoints/{}",
    "fairs/{}",
    "listings/{}",
    "provinces/{}/targets/2026-{}",
    "administrativeUnits/2025-{}",
    "administrativeUnits/{}",
    "criteriaSets/{}",
    "criteriaSets/1048-ruou-trang-v1",
    "auditEvents/{}",
    "catalog/{}",
    "{}",
    "/",
    "//",
    "subjects//products/",
    "subjects/{}/",
    "/subjects/{}",
    "SUBJECTS/{}",
];

/// Generates messages of any input type from the descriptors.
struct Fuzzer<'a> {
    rng: Rng,
    names: &'a [String],
    /// Only what the boundary lets through (short lines, known enum
    /// numbers), so that the input reaches the handlers.
    clean: bool,
}

impl Fuzzer<'_> {
    fn message(&mut self, desc: &MessageDescriptor, depth: usize) -> DynamicMessage {
        let mut message = DynamicMessage::new(desc.clone());
        match desc.full_name() {
            "google.protobuf.Timestamp" | "google.protobuf.Duration" => {
                let seconds = *self.rng.pick(&[
                    0,
                    1,
                    -1,
                    1_780_000_000,
                    -62_135_596_801,
                    253_402_300_800,
                    i64::MAX,
                    i64::MIN,
                ]);
                let nanos = *self.rng.pick(&[0, 1, 999_999_999, 1_000_000_000, -1, i32::MAX]);
                message.set_field_by_name("seconds", Value::I64(seconds));
                message.set_field_by_name("nanos", Value::I32(nanos));
                return message;
            }
            "google.protobuf.FieldMask" => {
                let n = self.rng.below(4);
                let paths = (0..n).map(|_| Value::String(self.mask_path())).collect();
                message.set_field_by_name("paths", Value::List(paths));
                return message;
            }
            _ => {}
        }
        if depth >= MAX_DEPTH {
            return message;
        }
        for field in desc.fields() {
            // One field of a oneof at most; others often unset.
            if field
                .containing_oneof()
                .is_some_and(|o| o.fields().any(|f| message.has_field(&f)))
            {
                continue;
            }
            if !self.rng.chance(65) {
                continue;
            }
            let value = if field.is_map() {
                let Kind::Message(entry) = field.kind() else {
                    unreachable!()
                };
                let (key_field, value_field) = (entry.map_entry_key_field(), entry.map_entry_value_field());
                let mut map = std::collections::HashMap::new();
                for _ in 0..self.rng.below(4) {
                    let key = match self.single(&key_field, depth) {
                        Value::String(s) => MapKey::String(s),
                        Value::I32(v) => MapKey::I32(v),
                        Value::I64(v) => MapKey::I64(v),
                        Value::U32(v) => MapKey::U32(v),
                        Value::U64(v) => MapKey::U64(v),
                        Value::Bool(v) => MapKey::Bool(v),
                        _ => continue,
                    };
                    map.insert(key, self.single(&value_field, depth));
                }
                Value::Map(map)
            } else if field.is_list() {
                let n = *self.rng.pick(&[0, 1, 1, 2, 3, 5, 40]);
                Value::List((0..n).map(|_| self.single(&field, depth)).collect())
            } else {
                self.single(&field, depth)
            };
            message.set_field(&field, value);
        }
        message
    }

    fn single(&mut self, field: &FieldDescriptor, depth: usize) -> Value {
        match field.kind() {
            Kind::String => Value::String(self.string_for(field)),
            Kind::Bytes => {
                let n = *self.rng.pick(&[0, 1, 16, 300]);
                Value::Bytes(Bytes::from(self.rng.bytes(n)))
            }
            Kind::Bool => Value::Bool(self.rng.chance(50)),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(self.int32()),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(self.int64()),
            Kind::Uint32 | Kind::Fixed32 => Value::U32(self.int64() as u32),
            Kind::Uint64 | Kind::Fixed64 => Value::U64(self.int64() as u64),
            Kind::Float => Value::F32(self.float() as f32),
            Kind::Double => Value::F64(self.float()),
            Kind::Enum(e) => {
                let known: Vec<i32> = e.values().map(|v| v.number()).collect();
                let number = if self.clean || self.rng.chance(75) {
                    *self.rng.pick(&known)
                } else {
                    let past = known.iter().max().copied().unwrap_or(0).saturating_add(1);
                    *self.rng.pick(&[-1, past, 42, 1000, i32::MAX, i32::MIN])
                };
                Value::EnumNumber(number)
            }
            Kind::Message(m) if m.full_name() == "ocop.common.v1.Date" => {
                let mut date = DynamicMessage::new(m.clone());
                let (year, month, day) = if self.clean && self.rng.chance(80) {
                    (
                        *self.rng.pick(&[2025, 2026, 2027]),
                        1 + self.rng.below(12) as i32,
                        1 + self.rng.below(28) as i32,
                    )
                } else {
                    (
                        *self.rng.pick(&[2026, 2025, 2019, 1900, 0, -1, 9999, 10_000, i32::MAX]),
                        *self.rng.pick(&[1, 6, 12, 0, 13, -1, i32::MIN]),
                        *self.rng.pick(&[1, 15, 28, 29, 30, 31, 0, 32, i32::MAX]),
                    )
                };
                for (name, value) in [("year", year), ("month", month), ("day", day)] {
                    if let Some(f) = m.get_field_by_name(name) {
                        let value = match f.kind() {
                            Kind::Uint32 | Kind::Fixed32 => Value::U32(value as u32),
                            _ => Value::I32(value),
                        };
                        date.set_field(&f, value);
                    }
                }
                Value::Message(date)
            }
            Kind::Message(m) => Value::Message(self.message(&m, depth + 1)),
        }
    }

    fn int32(&mut self) -> i32 {
        match self.rng.below(3) {
            0 => *self
                .rng
                .pick(&[0, 1, -1, 2, 3, 4, 5, 6, 30, 50, 100, 366, 367, 500, 501, 2025, 2026]),
            1 => *self
                .rng
                .pick(&[i32::MAX, i32::MIN, i32::MAX - 1, 1 << 30, -(1 << 30), 65_536]),
            _ => self.rng.next_u64() as i32,
        }
    }

    fn int64(&mut self) -> i64 {
        match self.rng.below(3) {
            0 => *self.rng.pick(&[0, 1, -1, 2, 100, 1_000_000, 9_007_199_254_740_993]),
            1 => *self
                .rng
                .pick(&[i64::MAX, i64::MIN, i64::from(i32::MAX) + 1, i64::MAX - 1]),
            _ => self.rng.next_u64() as i64,
        }
    }

    fn float(&mut self) -> f64 {
        *self.rng.pick(&[
            0.0,
            -0.0,
            1.5,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e308,
            f64::MIN_POSITIVE,
        ])
    }

    fn word(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789-";
        let n = 1 + self.rng.below(16);
        (0..n).map(|_| *self.rng.pick(ALPHABET) as char).collect()
    }

    fn mask_path(&mut self) -> String {
        const PATHS: &[&str] = &[
            "display_name",
            "legal_name",
            "representative",
            "representative.full_name",
            "state",
            "commune_code",
            "title",
            "summary",
            "name",
            "etag",
            "province_code",
            "*",
            "",
            "a.b.c.d",
            "representative.",
        ];
        if self.clean || self.rng.chance(80) {
            (*self.rng.pick(PATHS)).to_owned()
        } else {
            self.string()
        }
    }

    /// A string for `field`: in clean messages often what the field is for
    /// (an existing name of its pattern, a province or commune code).
    fn string_for(&mut self, field: &FieldDescriptor) -> String {
        if self.clean && self.rng.chance(60) {
            if let Some(pattern) = pattern_of(field) {
                let fitting: Vec<&String> = self.names.iter().filter(|n| matches(&pattern, n)).collect();
                if !fitting.is_empty() && self.rng.chance(70) {
                    return (*self.rng.pick(&fitting)).clone();
                }
                return self.name_like(&pattern);
            }
            let name = field.name();
            if name == "request_id" {
                return self.uuid();
            }
            if name.ends_with("province_code") {
                return (*self.rng.pick(&[OWN, OTHER, "01", ""])).to_owned();
            }
            if name.ends_with("commune_code") {
                return (*self.rng.pick(&[OWN_COMMUNE, "00001", "16174", ""])).to_owned();
            }
        }
        self.string()
    }

    fn string(&mut self) -> String {
        if self.clean {
            return self.clean_string();
        }
        self.any_string()
    }

    /// A string of one line, short, with no control or bidirectional
    /// character, often a name of the right shape.
    fn clean_string(&mut self) -> String {
        loop {
            let s = match self.rng.below(8) {
                0 => String::new(),
                1 => self.word(),
                2 => (*self.rng.pick(VIETNAMESE)).to_owned(),
                3 | 4 => self.shaped(),
                5 if !self.names.is_empty() => self.rng.pick(self.names).clone(),
                5 | 6 => (*self.rng.pick(FILTERS)).to_owned(),
                _ => {
                    let list = if self.rng.chance(50) { NUMERIC } else { INJECTIONS };
                    (*self.rng.pick(list)).to_owned()
                }
            };
            if s.chars().count() <= 200 && !s.chars().any(|c| c.is_control() || ODD_CHARS.contains(&c)) {
                return s;
            }
        }
    }

    /// A made-up name of one of the shapes the services parse.
    fn shaped(&mut self) -> String {
        let shape = *self.rng.pick(SHAPES);
        let mut out = String::new();
        for (i, part) in shape.split("{}").enumerate() {
            if i > 0 {
                let id = match self.rng.below(6) {
                    0 => String::new(),
                    1 => "-".into(),
                    2 => (*self.rng.pick(VIETNAMESE)).to_owned(),
                    3 => "x".repeat(if self.clean { 64 } else { 300 }),
                    _ => self.word(),
                };
                out.push_str(&id);
            }
            out.push_str(part);
        }
        out
    }

    fn any_string(&mut self) -> String {
        match self.rng.below(17) {
            0 => String::new(),
            1 => self.word(),
            2 => (*self.rng.pick(VIETNAMESE)).to_owned(),
            3 => {
                let len = *self.rng.pick(&[255, 256, 257, 1023, 1024, 1025, 8192, 8193, 70_000]);
                let c = *self.rng.pick(&['x', 'ệ', '🍯', ' ']);
                std::iter::repeat_n(c, len).collect()
            }
            4 | 5 => {
                let base = if self.rng.chance(50) {
                    (*self.rng.pick(VIETNAMESE)).to_owned()
                } else {
                    self.word()
                };
                let mut s: Vec<char> = base.chars().collect();
                let at = self.rng.below(s.len() + 1);
                s.insert(at, *self.rng.pick(ODD_CHARS));
                s.into_iter().collect()
            }
            6 | 7 => self.shaped(),
            8 | 9 if !self.names.is_empty() => {
                let name = self.rng.pick(self.names).clone();
                match self.rng.below(5) {
                    0 => format!("{name}/extra"),
                    1 => name.to_uppercase(),
                    2 => format!(" {name} "),
                    3 => name[..name.len() / 2].to_owned(),
                    _ => name,
                }
            }
            10 => (*self.rng.pick(FILTERS)).to_owned(),
            11 => (*self.rng.pick(INJECTIONS)).to_owned(),
            12 => (*self.rng.pick(NUMERIC)).to_owned(),
            13 => {
                // Decomposed Vietnamese (NFD), as some keyboards send it.
                use unicode_normalization::UnicodeNormalization;
                self.rng.pick(VIETNAMESE).nfd().collect()
            }
            14 => (*self.rng.pick(CSV)).to_owned(),
            15 => {
                let n = 1 + self.rng.below(24);
                (0..n)
                    .filter_map(|_| char::from_u32((self.rng.next_u64() % 0x11_0000) as u32))
                    .collect()
            }
            _ => self.uuid(),
        }
    }

    /// A name of `pattern` with made-up ids, e.g. `subjects/k3x/products/9`.
    fn name_like(&mut self, pattern: &str) -> String {
        let mut out = String::new();
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            let id = match self.rng.below(10) {
                0..=5 => self.word(),
                6 | 7 => (self.rng.next_u64() % 100_000).to_string(),
                8 => (*self.rng.pick(VIETNAMESE)).to_owned(),
                _ => "x".repeat(64),
            };
            out.push_str(&id);
            rest = &rest[close.min(rest.len())..];
        }
        out.push_str(rest);
        out
    }

    /// A random UUID (version 4 shape).
    fn uuid(&mut self) -> String {
        let b = self.rng.bytes(16);
        format!(
            "{}-{}-4{}-8{}-{}",
            hex(&b[..4]),
            hex(&b[4..6]),
            &hex(&b[6..8])[1..],
            &hex(&b[8..10])[1..],
            hex(&b[10..16])
        )
    }

    /// Bytes that are mostly not a valid message of `desc`.
    fn garbage(&mut self, desc: &MessageDescriptor, i: usize) -> Vec<u8> {
        let string_field = desc
            .fields()
            .find(|f| matches!(f.kind(), Kind::String) && !f.is_list())
            .map_or(1, |f| f.number());
        let tag = |number: u32, wire: u32| varint(u64::from(number << 3 | wire));
        match i % 10 {
            0 => {
                let n = 1 + self.rng.below(32);
                self.rng.bytes(n)
            }
            1 => {
                let n = 1 + self.rng.below(2048);
                self.rng.bytes(n)
            }
            2 => {
                // A typed message with a few bytes flipped.
                let mut bytes = self.message(desc, 0).encode_to_vec();
                if bytes.is_empty() {
                    bytes = self.rng.bytes(8);
                }
                for _ in 0..1 + self.rng.below(4) {
                    let at = self.rng.below(bytes.len());
                    bytes[at] ^= 1 << self.rng.below(8);
                }
                bytes
            }
            3 => {
                // A typed message cut short.
                let mut bytes = self.message(desc, 0).encode_to_vec();
                bytes.extend(tag(string_field, 2));
                bytes.extend(varint(40));
                bytes.extend(b"cut");
                let cut = self.rng.below(bytes.len());
                bytes.truncate(cut.max(1));
                bytes
            }
            4 => {
                // Invalid UTF-8 in a string field.
                const BAD: &[&[u8]] = &[
                    &[0xc3, 0x28],
                    &[0xff],
                    &[0xed, 0xa0, 0x80],
                    &[0xf4, 0x90, 0x80, 0x80],
                    &[0xc0, 0x80],
                    &[b'a', 0x80],
                ];
                let bad = *self.rng.pick::<&[u8]>(BAD);
                let mut bytes = tag(string_field, 2);
                bytes.extend(varint(bad.len() as u64));
                bytes.extend(bad);
                bytes
            }
            5 => {
                // A length far past the end.
                let mut bytes = tag(string_field, 2);
                bytes.extend(varint(*self.rng.pick(&[0x7f, 0xffff_ffff, u64::MAX >> 1])));
                bytes.extend(b"abc");
                bytes
            }
            6 => {
                // Groups nested deeper than any decoder's limit, as an unknown field.
                let depth = *self.rng.pick(&[101, 1000, 5000]);
                let mut bytes = Vec::new();
                for _ in 0..depth {
                    bytes.extend(tag(999, 3));
                }
                for _ in 0..depth {
                    bytes.extend(tag(999, 4));
                }
                bytes
            }
            7 => {
                // An eleven-byte varint.
                let mut bytes = tag(1, 0);
                bytes.extend([0xff; 10]);
                bytes.push(0x01);
                bytes
            }
            8 => {
                // Wire types 6 and 7, field number 0, an end-group never opened.
                let mut bytes = vec![0x0e, 0x01, 0x0f, 0x00, 0x00, 0x01];
                bytes.extend(tag(5, 4));
                self.rng
                    .pick(&[&bytes[..2], &bytes[2..4], &bytes[4..6], &bytes[6..]])
                    .to_vec()
            }
            _ => {
                // Two messages merged, then a field repeated many times.
                let mut bytes = self.message(desc, 0).encode_to_vec();
                bytes.extend(self.message(desc, 0).encode_to_vec());
                for _ in 0..2000 {
                    bytes.extend(tag(string_field, 2));
                    bytes.push(1);
                    bytes.push(b'x');
                }
                bytes
            }
        }
    }
}

fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// `OCOP_FUZZ_ROUNDS` times the inputs per method (default 1), for longer runs by hand.
fn rounds() -> usize {
    std::env::var("OCOP_FUZZ_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1)
        .max(1)
}

/// A call that should not have been answered so.
struct Failure {
    method: &'static str,
    target: &'static str,
    token: &'static str,
    outcome: String,
    input: Vec<u8>,
}

/// What one service's run saw.
#[derive(Default)]
struct Tally {
    inputs: usize,
    codes: BTreeMap<&'static str, usize>,
    by_kind: BTreeMap<(&'static str, &'static str), usize>,
    by_method: BTreeMap<(&'static str, &'static str), usize>,
    failures: Vec<Failure>,
    elapsed: Duration,
}

async fn fuzz_service(
    target: &'static str,
    channel: tonic::transport::Channel,
    methods: Vec<&'static Method>,
    pool: Arc<DescriptorPool>,
    tokens: Arc<Vec<(&'static str, Option<String>)>>,
    names: Arc<Vec<String>>,
    mut rng: Rng,
) -> Tally {
    let started = Instant::now();
    let verbose = std::env::var_os("OCOP_FUZZ_VERBOSE").is_some();
    let rounds = rounds();
    let mut tally = Tally::default();
    for method in methods {
        let desc = input_of(&pool, method);
        let mut fuzzer = Fuzzer {
            rng: rng.fork(method.path),
            names: &names,
            clean: false,
        };
        for n in 0..(TYPED + RANDOM) * rounds {
            let i = n % (TYPED + RANDOM);
            // Half the typed messages pass the boundary's checks and reach the handler.
            fuzzer.clean = i % 2 == 1;
            let (kind, body) = if i == 0 {
                ("typed", Vec::new())
            } else if i < TYPED {
                let kind = if fuzzer.clean { "typed, clean" } else { "typed, hostile" };
                (kind, fuzzer.message(&desc, 0).encode_to_vec())
            } else {
                ("random", fuzzer.garbage(&desc, i - TYPED))
            };
            // Mostly the province officer; some other roles, some no token.
            let (token_name, token) = if fuzzer.rng.chance(70) {
                &tokens[0]
            } else {
                fuzzer.rng.pick(&tokens[1..])
            };
            let outcome = call(
                &channel,
                method,
                Bytes::from(body.clone()),
                token.as_deref(),
                CALL_LIMIT,
            )
            .await;
            tally.inputs += 1;
            *tally.codes.entry(outcome.label()).or_default() += 1;
            *tally.by_kind.entry((kind, outcome.label())).or_default() += 1;
            *tally.by_method.entry((method.path, outcome.label())).or_default() += 1;
            if verbose && let Outcome::Status(s) = &outcome {
                println!(
                    "fuzz: {} [{kind}] {}: {}",
                    method.name,
                    code_name(s.code()),
                    s.message().chars().take(200).collect::<String>()
                );
            }
            let bad = match &outcome {
                Outcome::Hung => true,
                Outcome::Status(s) => matches!(
                    s.code(),
                    tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::Unavailable | tonic::Code::DataLoss
                ),
                _ => false,
            };
            if bad {
                tally.failures.push(Failure {
                    method: method.path,
                    target,
                    token: token_name,
                    outcome: match &outcome {
                        Outcome::Status(s) => format!("{} {:?}: {}", code_name(s.code()), reason(s), s.message()),
                        other => other.label().to_owned(),
                    },
                    input: body,
                });
            }
        }
    }
    tally.elapsed = started.elapsed();
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rpc_answers_typed_and_random_input_without_internal_errors() {
    let seed = seed();
    println!("fuzz: OCOP_FUZZ_SEED={seed} replays this run");
    let mut rng = Rng::new(seed);
    let setup = Instant::now();
    let world = World::start(false).await;
    println!("fuzz: world ready in {:.1?}", setup.elapsed());

    let pool = Arc::new(descriptors());
    let methods = served_methods();
    let council = world.token("chu-tich", "council_member", Some(OWN), None);
    let tokens: Arc<Vec<(&'static str, Option<String>)>> = Arc::new(vec![
        (
            "province_officer/38",
            Some(world.env.token("province_officer", Some(OWN), None)),
        ),
        (
            "national_officer",
            Some(world.env.token("national_officer", None, None)),
        ),
        ("none", None),
        ("council_member/38", Some(council)),
        ("service", Some(world.env.token("service", None, None))),
        (
            "commune_officer/38",
            Some(world.env.token("commune_officer", Some(OWN), Some(OWN_COMMUNE))),
        ),
        (
            "province_officer/25",
            Some(world.env.token("province_officer", Some(OTHER), None)),
        ),
    ]);
    let names = Arc::new(world.pools.all());

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for service in SERVICES {
        // Its own methods, and the feed and audit log it serves too.
        let mine: Vec<_> = methods
            .iter()
            .copied()
            .filter(|m| m.service == service || m.service == FEED || m.service == AUDIT)
            .collect();
        tasks.spawn(fuzz_service(
            service,
            world.own.channel(service).clone(),
            mine,
            pool.clone(),
            tokens.clone(),
            names.clone(),
            rng.fork(service),
        ));
    }
    let mut total = Tally::default();
    let mut per_service = Vec::new();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally.expect("a fuzzing task panicked");
        per_service.push(tally.elapsed);
        total.inputs += tally.inputs;
        for (code, n) in tally.codes {
            *total.codes.entry(code).or_default() += n;
        }
        for (key, n) in tally.by_kind {
            *total.by_kind.entry(key).or_default() += n;
        }
        for (key, n) in tally.by_method {
            *total.by_method.entry(key).or_default() += n;
        }
        total.failures.extend(tally.failures);
    }
    let elapsed = started.elapsed();
    world.own.assert_serving().await;

    let codes: Vec<String> = total.codes.iter().map(|(c, n)| format!("{c}={n}")).collect();
    println!(
        "fuzz: {} inputs ({} typed + {} random per method) to {} methods (the feed on each of {} services) \
         in {elapsed:.1?} (slowest service {:.1?}); codes: {}; failures: {}",
        total.inputs,
        TYPED * rounds(),
        RANDOM * rounds(),
        methods.len(),
        SERVICES.len(),
        per_service.iter().max().copied().unwrap_or_default(),
        codes.join(", "),
        total.failures.len()
    );
    let mut kinds: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for ((kind, code), n) in &total.by_kind {
        kinds.entry(kind).or_default().push(format!("{code}={n}"));
    }
    for (kind, codes) in kinds {
        println!("fuzz:   {kind}: {}", codes.join(", "));
    }
    if std::env::var_os("OCOP_FUZZ_VERBOSE").is_some() {
        let mut methods: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for ((method, code), n) in &total.by_method {
            methods.entry(method).or_default().push(format!("{code}={n}"));
        }
        for (method, codes) in methods {
            println!("fuzz:   {method}: {}", codes.join(", "));
        }
    }
    for f in &total.failures {
        let shown = if f.input.len() > 4096 {
            format!(
                "{}… ({} bytes; replay the seed for all of it)",
                hex(&f.input[..4096]),
                f.input.len()
            )
        } else {
            hex(&f.input)
        };
        println!(
            "fuzz FAILURE: {} (on {}) with token {}: {}\n  input hex: {shown}",
            f.method, f.target, f.token, f.outcome
        );
    }
    assert!(
        total.failures.is_empty(),
        "{} inputs were answered INTERNAL, UNKNOWN, UNAVAILABLE or not at all (seed {seed}); see above",
        total.failures.len()
    );
}
