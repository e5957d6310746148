//! The checks every request passes once, where it is decoded, before any
//! handler sees it: a body that is not the method's message, a string with a
//! control character (NUL included: PostgreSQL refuses it, SQLSTATE 22021), a
//! bidirectional override (U+202E makes a name display as something it is
//! not), a string past its field's length, or an enum number the contract does
//! not define, is INVALID_ARGUMENT naming the field; nothing is echoed back
//! but the field's path, so no answer grows with its input. Every string is
//! also brought to Unicode NFC here, so text typed in decomposed form (as many
//! Vietnamese keyboards send it) is stored and searched as one spelling.
//!
//! The walk over each message is generated from the descriptors
//! (`build/boundary.rs`): a new field or RPC is covered without a line here.

use std::marker::PhantomData;

use prost::Message;
use tonic::codec::{Codec as TonicCodec, DecodeBuf, Decoder};
use tonic::{Code, Status};
use tonic_prost::{ProstCodec, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// The `ErrorInfo.domain` of every error this platform raises.
pub const ERROR_DOMAIN: &str = "ocop.gov.vn";

/// Reason of a request that breaks a field's rules.
pub const INVALID_FIELD: &str = "INVALID_FIELD";
/// Reason of a request body that is not the method's message.
pub const MALFORMED_REQUEST: &str = "MALFORMED_REQUEST";

/// Violations listed at most; a request with more gets the first ones, which
/// keeps the answer's headers small whatever was sent.
const MAX_VIOLATIONS: usize = 10;

/// One RPC of the contracts, as the descriptors declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// Fully qualified service, e.g. `ocop.registry.v1.RegistryService`.
    pub service: &'static str,
    /// The method's name, e.g. `GetProduct`.
    pub name: &'static str,
    /// The HTTP/2 path, `/service/name`.
    pub path: &'static str,
    /// Fully qualified input message, e.g. `ocop.registry.v1.GetProductRequest`.
    pub input: &'static str,
    /// Whether the client streams.
    pub client_streaming: bool,
    /// Whether the server streams.
    pub server_streaming: bool,
}

include!(concat!(env!("OUT_DIR"), "/ocop_boundary.rs"));

/// The methods of one service (`ocop.registry.v1.RegistryService`).
pub fn methods_of(service: &str) -> impl Iterator<Item = &'static Method> + '_ {
    METHODS.iter().filter(move |m| m.service == service)
}

/// How a string field is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    /// Most characters (after NFC).
    pub max_chars: usize,
    /// Whether line breaks and tabs are allowed.
    pub multiline: bool,
}

impl Text {
    /// Names, codes, ids, etags: one short line.
    pub const LINE: Text = Text {
        max_chars: 256,
        multiline: false,
    };
    /// Titles, addresses, filters, queries and tokens: one longer line.
    pub const LONG_LINE: Text = Text {
        max_chars: 1024,
        multiline: false,
    };
    /// Descriptions, reasons, reports: free text over several lines.
    pub const PROSE: Text = Text {
        max_chars: 8192,
        multiline: true,
    };
}

/// Implemented for every message of the contracts by generated code.
pub trait Sanitize {
    /// Whether this message is the input of some RPC (only those are checked
    /// when decoded: answers are decoded by clients, and an answer is never
    /// refused for what an older version stored).
    const REQUEST: bool = false;

    /// Normalises and checks every string, enum and nested message.
    fn sanitize(&mut self, walk: &mut Walk);
}

/// The walk over one request: where it is, and what it found.
#[derive(Debug, Default)]
pub struct Walk {
    path: String,
    violations: Vec<(String, String)>,
    more: usize,
}

impl Walk {
    fn at(&mut self, field: &str) -> usize {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(field);
        len
    }

    /// Like `at`, for element `i` of a repeated field, without allocating.
    fn at_index(&mut self, field: &str, i: usize) -> usize {
        use std::fmt::Write;
        let back = self.at(field);
        let _ = write!(self.path, "[{i}]");
        back
    }

    fn violation(&mut self, description: String) {
        if self.violations.len() < MAX_VIOLATIONS {
            self.violations.push((self.path.clone(), description));
        } else {
            self.more += 1;
        }
    }

    /// A string field.
    pub fn text(&mut self, value: &mut String, field: &str, rule: Text) {
        if is_plain(value, rule) {
            return;
        }
        let back = self.at(field);
        self.check_text(value, rule);
        self.path.truncate(back);
    }

    /// A repeated string field.
    pub fn texts(&mut self, values: &mut [String], field: &str, rule: Text) {
        for (i, value) in values.iter_mut().enumerate() {
            if is_plain(value, rule) {
                continue;
            }
            let back = self.at_index(field, i);
            self.check_text(value, rule);
            self.path.truncate(back);
        }
    }

    fn check_text(&mut self, value: &mut String, rule: Text) {
        for problem in text(value, rule) {
            self.violation(problem);
        }
    }

    /// An enum field: the number must be one the contract defines.
    pub fn enumeration(&mut self, value: &i32, field: &str, name: &str, known: &[i32]) {
        if !known.contains(value) {
            let back = self.at(field);
            self.violation(format!("{value} is not a {name} value (known: {known:?})"));
            self.path.truncate(back);
        }
    }

    /// A repeated enum field.
    pub fn enumerations(&mut self, values: &[i32], field: &str, name: &str, known: &[i32]) {
        for (i, value) in values.iter().enumerate() {
            if !known.contains(value) {
                let back = self.at_index(field, i);
                self.violation(format!("{value} is not a {name} value (known: {known:?})"));
                self.path.truncate(back);
            }
        }
    }

    /// A message field.
    pub fn message<M: Sanitize>(&mut self, value: Option<&mut M>, field: &str) {
        if let Some(value) = value {
            let back = self.at(field);
            value.sanitize(self);
            self.path.truncate(back);
        }
    }

    /// A repeated message field.
    pub fn messages<M: Sanitize>(&mut self, values: &mut [M], field: &str) {
        for (i, value) in values.iter_mut().enumerate() {
            let back = self.at_index(field, i);
            value.sanitize(self);
            self.path.truncate(back);
        }
    }

    /// The violations found, as a person reads them.
    pub fn violations(&self) -> &[(String, String)] {
        &self.violations
    }

    /// `Err` with INVALID_ARGUMENT when anything was found.
    pub fn into_result(self) -> Result<(), Status> {
        if self.violations.is_empty() {
            return Ok(());
        }
        let mut message = self
            .violations
            .iter()
            .map(|(field, why)| format!("{field}: {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        if self.more > 0 {
            message.push_str(&format!("; and {} more", self.more));
        }
        let mut details = ErrorDetails::new();
        details.set_error_info(
            INVALID_FIELD,
            ERROR_DOMAIN,
            std::collections::HashMap::<String, String>::new(),
        );
        for (field, why) in self.violations {
            details.add_bad_request_violation(field, why);
        }
        Err(Status::with_error_details(Code::InvalidArgument, message, details))
    }
}

/// Brings `value` to NFC and says what breaks `rule` in it (at most two
/// problems: its length and its first forbidden character), quoting nothing
/// of it. For text that arrives outside a message (a CSV file's cells).
pub fn text(value: &mut String, rule: Text) -> Vec<String> {
    if is_nfc_quick(value.chars()) != IsNormalized::Yes {
        let composed: String = value.nfc().collect();
        if composed != *value {
            *value = composed;
        }
    }
    let mut count = 0;
    let mut bad: Option<(usize, char)> = None;
    for c in value.chars() {
        count += 1;
        let allowed_break = rule.multiline && matches!(c, '\n' | '\r' | '\t');
        if bad.is_none() && ((c.is_control() && !allowed_break) || is_bidi_control(c)) {
            bad = Some((count, c));
        }
    }
    let mut problems = Vec::new();
    if count > rule.max_chars {
        problems.push(format!(
            "is {count} characters long; at most {} are allowed",
            rule.max_chars
        ));
    }
    if let Some((position, c)) = bad {
        let what = if is_bidi_control(c) {
            "a bidirectional formatting character, which makes text display as something other than it is"
        } else if rule.multiline {
            "a control character (only line breaks and tabs are allowed)"
        } else {
            "a control character (this field is one line of text)"
        };
        problems.push(format!(
            "character {position} is U+{:04X}, {what}; remove it",
            u32::from(c)
        ));
    }
    problems
}

/// Printable ASCII within the limit: the common case, already NFC, nothing to check.
fn is_plain(value: &str, rule: Text) -> bool {
    value.len() <= rule.max_chars && value.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// Unicode's Bidi_Control characters: embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks `message` as a request: the walk's violations as INVALID_ARGUMENT.
pub fn check<M: Sanitize>(message: &mut M) -> Result<(), Status> {
    let mut walk = Walk::default();
    message.sanitize(&mut walk);
    walk.into_result()
}

/// The generated services' codec: prost's, with every decoded request
/// checked, and an undecodable request answered INVALID_ARGUMENT (prost's
/// codec says INTERNAL, as if the server were at fault).
#[derive(Debug, Clone)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Codec(PhantomData)
    }
}

impl<T, U> TonicCodec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Sanitize + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::default().encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckingDecoder(PhantomData)
    }
}

/// Decodes `U` and, when it is a request, checks it.
#[derive(Debug, Clone)]
pub struct CheckingDecoder<U>(PhantomData<U>);

impl<U: Message + Sanitize + Default> Decoder for CheckingDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let decoded = U::decode(buf);
        if !U::REQUEST {
            return decoded.map(Some).map_err(|e| Status::internal(e.to_string()));
        }
        let mut message = decoded.map_err(|e| malformed(&e))?;
        check(&mut message)?;
        Ok(Some(message))
    }
}

fn malformed(error: &prost::DecodeError) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        MALFORMED_REQUEST,
        ERROR_DOMAIN,
        std::collections::HashMap::<String, String>::new(),
    );
    Status::with_error_details(
        Code::InvalidArgument,
        format!("the request body is not this method's message ({error}); send it as the contract in proto/ defines"),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::v1::{Product, SearchProductsRequest, UpdateProductRequest};

    fn walk<M: Sanitize>(message: &mut M) -> Vec<(String, String)> {
        let mut walk = Walk::default();
        message.sanitize(&mut walk);
        walk.violations
    }

    #[test]
    fn decomposed_text_is_composed() {
        let nfd: String = "Mật ong rừng".nfd().collect();
        assert_ne!(nfd, "Mật ong rừng");
        let mut request = SearchProductsRequest {
            query: nfd,
            ..Default::default()
        };
        assert!(walk(&mut request).is_empty());
        assert_eq!(request.query, "Mật ong rừng");
    }

    #[test]
    fn nul_bidi_and_length_name_the_nested_field() {
        let mut request = UpdateProductRequest {
            product: Some(Product {
                display_name: "Mật\u{0}ong".into(),
                description: "line one\nline two \u{202E}evil".into(),
                group_code: "x".repeat(10_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        let found = walk(&mut request);
        let fields: Vec<_> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["product.display_name", "product.group_code", "product.description"]
        );
        assert!(found[0].1.contains("U+0000"), "{found:?}");
        assert!(found[1].1.contains("10000 characters"), "{found:?}");
        assert!(found[2].1.contains("U+202E"), "{found:?}");
        // Nothing of the input is quoted back.
        assert!(
            found
                .iter()
                .all(|(_, why)| !why.contains("xxx") && !why.contains("evil"))
        );
    }

    #[test]
    fn unknown_enum_numbers_are_refused() {
        let mut product = Product {
            state: 42,
            ..Default::default()
        };
        let found = walk(&mut product);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "state");
        assert!(found[0].1.starts_with("42 is not a"), "{found:?}");
    }

    #[test]
    fn a_council_members_user_id_is_one_short_line() {
        use crate::evaluation::v1::{CouncilMember, CreateEvaluationRoundRequest, EvaluationRound};
        let mut request = CreateEvaluationRoundRequest {
            evaluation_round: Some(EvaluationRound {
                council: vec![
                    CouncilMember {
                        user: "member-1".into(),
                        role: 1,
                    },
                    CouncilMember {
                        user: "u".repeat(10_000),
                        role: 1,
                    },
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let found = walk(&mut request);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "evaluation_round.council[1].user");
    }

    #[test]
    fn every_rpc_is_listed_with_a_request_type() {
        assert!(
            METHODS
                .iter()
                .any(|m| m.path == "/ocop.registry.v1.RegistryService/GetProduct")
        );
        assert!(methods_of("ocop.feed.v1.FeedService").any(|m| m.server_streaming));
        assert!(UpdateProductRequest::REQUEST && !Product::REQUEST);
    }
}
