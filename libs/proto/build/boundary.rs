//! Writes, from the descriptors, what the boundary checks need to know about
//! every message: an `impl Sanitize` that walks each string, enum and nested
//! message (`crate::boundary` does the checking), and the list of every RPC.
//! Generated rather than written by hand so that a new field or RPC is
//! covered without anyone remembering to.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};

/// What the generated code checks a string field as, by its name: free text
/// may span lines and be long; queries and tokens are one line of moderate
/// length; everything else (names, codes, ids) is a short single line.
fn text_kind(field: &str) -> &'static str {
    match field {
        "description" | "reason" | "note" | "notes_vi" | "summary" | "report" | "text" | "text_vi"
        | "review_reason" | "cancel_reason" | "flag_reason" | "revocation_text" | "corrections"
        | "raw_material_area" | "advisory_team" | "idea" | "disqualified_if_vi" | "knockout_vi"
        // The forms of Decision 26/2026 (Mẫu 02, Mẫu 03): paragraphs.
        | "product_specification" | "history" | "structure" | "production_and_technology" | "quality_changes"
        | "distribution_market" | "business_plan" | "local_materials" | "local_labour" | "idea_origin"
        | "local_identity" => {
            "crate::boundary::Text::PROSE"
        }
        "filter" | "query" | "order_by" | "page_token" | "title" | "title_vi" | "address" | "qr_payload"
        | "public_key" | "legal_name" | "display_name" | "full_name" | "url" => "crate::boundary::Text::LONG_LINE",
        _ => "crate::boundary::Text::LINE",
    }
}

/// prost's rule for field and module names (keywords become raw identifiers).
fn snake(name: &str) -> String {
    let s = name.to_snake_case();
    match s.as_str() {
        "as" | "break" | "const" | "continue" | "else" | "enum" | "false" | "fn" | "for" | "if" | "impl" | "in"
        | "let" | "loop" | "match" | "mod" | "move" | "mut" | "pub" | "ref" | "return" | "static" | "struct"
        | "trait" | "true" | "type" | "unsafe" | "use" | "where" | "while" | "dyn" | "abstract" | "become" | "box"
        | "do" | "final" | "macro" | "override" | "priv" | "typeof" | "unsized" | "virtual" | "yield" | "async"
        | "await" | "try" | "gen" => format!("r#{s}"),
        "self" | "super" | "crate" | "extern" => format!("{s}_"),
        _ => s,
    }
}

struct Names {
    /// Fully qualified message name (`.pkg.Msg`) → Rust path.
    messages: BTreeMap<String, String>,
    /// Fully qualified enum name → (short name, known numbers).
    enums: BTreeMap<String, (String, Vec<i32>)>,
}

fn collect(names: &mut Names, prefix: &str, rust: &str, messages: &[DescriptorProto]) {
    for m in messages {
        let name = m.name();
        let full = format!("{prefix}.{name}");
        names
            .messages
            .insert(full.clone(), format!("{rust}::{}", name.to_upper_camel_case()));
        let inner = format!("{rust}::{}", snake(name));
        for e in &m.enum_type {
            let numbers = e.value.iter().map(|v| v.number()).collect();
            names
                .enums
                .insert(format!("{full}.{}", e.name()), (e.name().to_owned(), numbers));
        }
        collect(names, &full, &inner, &m.nested_type);
    }
}

/// The generated source: `impl Sanitize` for every OCOP message and `METHODS`.
pub fn generate(fds: &FileDescriptorSet) -> String {
    let mut names = Names {
        messages: BTreeMap::new(),
        enums: BTreeMap::new(),
    };
    let files: Vec<_> = fds.file.iter().filter(|f| f.package().starts_with("ocop.")).collect();
    for f in &files {
        let prefix = format!(".{}", f.package());
        let rust = format!("crate::{}", f.package().replace('.', "::"));
        for e in &f.enum_type {
            let numbers = e.value.iter().map(|v| v.number()).collect();
            names
                .enums
                .insert(format!("{prefix}.{}", e.name()), (e.name().to_owned(), numbers));
        }
        collect(&mut names, &prefix, &rust, &f.message_type);
    }

    let mut requests = BTreeSet::new();
    let mut methods = String::new();
    for f in &files {
        for s in &f.service {
            let service = format!("{}.{}", f.package(), s.name());
            for m in &s.method {
                requests.insert(m.input_type().to_owned());
                let _ = writeln!(
                    methods,
                    "    Method {{ service: {service:?}, name: {:?}, path: \"/{service}/{}\", input: {:?}, \
                     client_streaming: {}, server_streaming: {} }},",
                    m.name(),
                    m.name(),
                    m.input_type().trim_start_matches('.'),
                    m.client_streaming(),
                    m.server_streaming()
                );
            }
        }
    }

    let mut out = String::from("// @generated by libs/proto/build/boundary.rs: do not edit.\n\n");
    for f in &files {
        sanitize_impls(
            &mut out,
            &names,
            &requests,
            &format!(".{}", f.package()),
            &f.message_type,
        );
    }
    let _ = write!(
        out,
        "/// Every RPC of every OCOP service, from the descriptors.\npub const METHODS: &[Method] = &[\n{methods}];\n"
    );
    out
}

fn sanitize_impls(
    out: &mut String,
    names: &Names,
    requests: &BTreeSet<String>,
    prefix: &str,
    messages: &[DescriptorProto],
) {
    for m in messages {
        let full = format!("{prefix}.{}", m.name());
        let rust = &names.messages[&full];
        let mut body = String::new();
        for f in &m.field {
            let field = snake(f.name());
            let proto_name = f.name();
            let repeated = f.label() == Label::Repeated;
            match f.r#type() {
                Type::String => {
                    let kind = text_kind(proto_name);
                    let call = if repeated { "texts" } else { "text" };
                    let _ = writeln!(body, "        walk.{call}(&mut self.{field}, {proto_name:?}, {kind});");
                }
                Type::Enum => {
                    let (short, known) = &names.enums[f.type_name()];
                    let call = if repeated { "enumerations" } else { "enumeration" };
                    let _ = writeln!(
                        body,
                        "        walk.{call}(&self.{field}, {proto_name:?}, {short:?}, &{known:?});"
                    );
                }
                Type::Message if f.type_name() == ".google.protobuf.FieldMask" => {
                    let _ = writeln!(
                        body,
                        "        if let Some(mask) = self.{field}.as_mut() {{ walk.texts(&mut mask.paths, \"{proto_name}.paths\", crate::boundary::Text::LINE); }}"
                    );
                }
                Type::Message if names.messages.contains_key(f.type_name()) => {
                    let call = if repeated { "messages" } else { "message" };
                    let arg = if repeated {
                        format!("&mut self.{field}")
                    } else {
                        format!("self.{field}.as_mut()")
                    };
                    let _ = writeln!(body, "        walk.{call}({arg}, {proto_name:?});");
                }
                // Timestamps, bytes and numbers: nothing a string check applies to.
                _ => {}
            }
        }
        let request = if requests.contains(&full) {
            "    const REQUEST: bool = true;\n"
        } else {
            ""
        };
        let walk = if body.is_empty() { "_walk" } else { "walk" };
        let _ = writeln!(
            out,
            "impl crate::boundary::Sanitize for {rust} {{\n{request}    fn sanitize(&mut self, {walk}: &mut crate::boundary::Walk) {{\n{body}    }}\n}}\n"
        );
        sanitize_impls(out, names, requests, &full, &m.nested_type);
    }
}
