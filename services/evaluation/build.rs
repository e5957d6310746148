//! `sqlx::migrate!` embeds the migrations, but cargo does not watch that
//! folder (sqlx#681); the criteria sheets are embedded too. Both are watched.
use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=data/criteria");
    let mut files: Vec<_> = std::fs::read_dir("data/criteria")
        .expect("data/criteria")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = String::from("[\n");
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let absolute = std::fs::canonicalize(&path).unwrap();
        writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            absolute.display().to_string()
        )
        .unwrap();
    }
    out.push(']');
    let target = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("criteria_files.rs");
    std::fs::write(target, out).unwrap();
}
