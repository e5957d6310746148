//! The catalogue against the sources and the README.

use std::path::{Path, PathBuf};

use super::*;

/// Literals shaped like reasons that are something else.
fn not_a_reason(literal: &str) -> bool {
    // Environment variables and build-script inputs.
    literal.starts_with("OCOP") || literal.starts_with("CARGO_") || literal == "OUT_DIR"
        // gRPC code names (metric labels); ALREADY_EXISTS is also a reason.
        || (literal != "ALREADY_EXISTS" && (0..=16).any(|c| code_name(Code::from(c)) == literal))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The non-test Rust sources of every crate: `src/` and build scripts,
/// without `tests.rs` files and what follows a `#[cfg(test)]`.
fn sources() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![workspace().join("services"), workspace().join("libs")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read a source folder") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if path.is_dir() {
                if name != "tests" && name != "target" {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") && name != "tests.rs" && !path.ends_with("kit/src/reasons/catalogue.rs") {
                let text = std::fs::read_to_string(&path).expect("read a source");
                let text = match text.find("#[cfg(test)]") {
                    Some(at) => text[..at].to_owned(),
                    None => text,
                };
                out.push((path, text));
            }
        }
    }
    out
}

/// Every `"UPPER_SNAKE"` literal (with at least one underscore) in `text`.
fn reason_literals(text: &str) -> Vec<&str> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.contains('_')
                && !s.ends_with('_')
                && s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn the_catalogue_is_sorted_and_unique() {
    for pair in CATALOGUE.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "{} must come after {}",
            pair[0].name,
            pair[1].name
        );
    }
    for r in CATALOGUE {
        assert!(
            !r.meaning.is_empty() && !r.meaning.contains('|'),
            "{}: a one-cell meaning",
            r.name
        );
        assert_eq!(find(r.name), Some(r));
    }
}

#[test]
fn every_reason_raised_is_catalogued_and_every_catalogued_one_is_raised() {
    let sources = sources();
    assert!(
        sources.len() > 50,
        "found only {} source files under {:?}",
        sources.len(),
        workspace()
    );
    let mut missing = Vec::new();
    for (path, text) in &sources {
        // The scan splits a file at quotes: a quote char literal would
        // shift every string after it.
        let text = text.replace("'\"'", "");
        for literal in reason_literals(&text) {
            if find(literal).is_none() && !not_a_reason(literal) {
                missing.push(format!("{literal} ({})", path.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "reasons raised but not in libs/kit/src/reasons/catalogue.rs: {missing:?}"
    );
    let unused: Vec<_> = CATALOGUE
        .iter()
        .filter(|r| {
            !sources
                .iter()
                .any(|(_, text)| text.contains(&format!("\"{}\"", r.name)))
        })
        .map(|r| r.name)
        .collect();
    assert!(
        unused.is_empty(),
        "catalogued reasons no code raises any more: {unused:?}"
    );
}

#[test]
fn the_readme_lists_the_catalogue() {
    let path = workspace().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let (begin, end) = ("<!-- reasons:begin -->\n", "<!-- reasons:end -->");
    let from = readme.find(begin).expect("README.md has a reasons:begin marker") + begin.len();
    let to = readme[from..].find(end).expect("README.md has a reasons:end marker") + from;
    let table = markdown();
    if readme[from..to] != table {
        if std::env::var_os("OCOP_BLESS").is_some() {
            std::fs::write(&path, format!("{}{table}{}", &readme[..from], &readme[to..])).expect("write README.md");
        } else {
            panic!(
                "README.md's table of reasons is not the catalogue's; regenerate it with \
                 `OCOP_BLESS=1 cargo test -p ocop-kit reasons`"
            );
        }
    }
}
