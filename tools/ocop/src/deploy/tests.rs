use super::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/k8s")
}

#[test]
fn the_34_provinces_come_from_the_registry_unit_list() {
    let provinces = provinces().expect("the unit list matches the configuration's codes");
    assert_eq!(provinces.len(), 34);
    let thanh_hoa = provinces.iter().find(|p| p.code == "38").unwrap();
    assert_eq!(
        (thanh_hoa.name.as_str(), thanh_hoa.slug.as_str()),
        ("Tỉnh Thanh Hóa", "thanhhoa")
    );
    let hcm = provinces.iter().find(|p| p.code == "79").unwrap();
    assert_eq!(hcm.slug, "hochiminh");
    let mut slugs: Vec<_> = provinces.iter().map(|p| p.slug.as_str()).collect();
    slugs.sort();
    slugs.dedup();
    assert_eq!(slugs.len(), 34, "every province has its own host");
    assert!(
        slugs.iter().all(|s| s.bytes().all(|b| b.is_ascii_lowercase())),
        "{slugs:?}"
    );
}

#[test]
fn the_checked_in_tree_is_up_to_date() {
    let problems = differences(&root()).unwrap();
    assert!(
        problems.is_empty(),
        "deploy/k8s is out of date; run `cargo run --bin ocop -- deploy-overlays`:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn every_generated_configuration_loads_with_the_services_loader() {
    let rules = read_rules(&root()).unwrap();
    let files = files(&rules).unwrap();
    let dir = std::env::temp_dir().join(format!("ocop-deploy-{}", std::process::id()));
    let mut national = None;
    for (path, text) in files.iter().filter(|(p, _)| p.ends_with("ocop.toml")) {
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("ocop.toml");
        std::fs::write(&file, text).unwrap();
        let config = ocop_kit::config::Config::load(Some(&file), &serde_json::json!({}))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if path.starts_with("overlays/national") {
            national = Some(config);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let codes: Vec<_> = national
        .expect("a national overlay")
        .federation
        .provinces
        .into_iter()
        .map(|p| p.province_code)
        .collect();
    assert_eq!(codes, PROVINCE_CODES_2025);
}
