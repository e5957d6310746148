//! The TOML of every rendered ConfigMap of `deploy/k8s/overlays/*` (what
//! `kubectl kustomize` gives a cluster) loads and validates with the
//! services' own configuration loader, and says who the overlay is.
//! `scripts/check-deploy.sh` validates the rest of the rendered objects.

use std::path::{Path, PathBuf};
use std::process::Command;

use ocop_kit::config::{Config, DeploymentRole, PROVINCE_CODES_2025, ServiceName};

fn k8s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/k8s")
}

/// kubectl: the pinned one scripts/check-deploy.sh installs, else the machine's.
fn kubectl() -> PathBuf {
    let pinned = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.local/deploy-tools/venv/bin/kubectl");
    if pinned.is_file() {
        pinned
    } else {
        PathBuf::from("kubectl")
    }
}

/// The rendered manifests of one overlay.
fn render(overlay: &Path) -> String {
    let output =
        Command::new(kubectl()).arg("kustomize").arg(overlay).output().expect(
            "kubectl renders the overlays: scripts/check-deploy.sh installs a pinned one, or put kubectl on PATH",
        );
    assert!(
        output.status.success(),
        "{} does not render:\n{}",
        overlay.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 manifests")
}

/// The `ocop.toml` of each ConfigMap in `rendered`: kustomize writes a file
/// of a configMapGenerator as a literal block (`key: |`), indented by four.
fn config_maps(rendered: &str) -> Vec<String> {
    let mut found = Vec::new();
    for doc in rendered.split("\n---\n") {
        if !doc.lines().any(|l| l == "kind: ConfigMap") {
            continue;
        }
        let mut lines = doc.lines().skip_while(|l| *l != "  ocop.toml: |");
        assert!(
            lines.next().is_some(),
            "a ConfigMap without `ocop.toml` as a literal block:\n{doc}"
        );
        let mut text = String::new();
        for line in lines {
            if line.is_empty() {
                text.push('\n');
            } else if let Some(content) = line.strip_prefix("    ") {
                text.push_str(content);
                text.push('\n');
            } else {
                break;
            }
        }
        // Literal block, clip chomping: exactly one final line break.
        found.push(format!("{}\n", text.trim_end_matches('\n')));
    }
    found
}

#[test]
fn every_rendered_config_map_loads_with_the_services_loader() {
    let mut overlays: Vec<PathBuf> = std::fs::read_dir(k8s().join("overlays"))
        .expect("deploy/k8s/overlays")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    overlays.sort();
    let names: Vec<String> = overlays
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut expected: Vec<String> = PROVINCE_CODES_2025.iter().map(|c| c.to_string()).collect();
    expected.push("national".into());
    assert_eq!(names, expected, "an overlay per province of 2025, and the national one");

    let scratch = std::env::temp_dir().join(format!("ocop-rendered-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&scratch).unwrap();
    for (overlay, name) in overlays.iter().zip(&names) {
        let rendered = render(overlay);
        let graces: Vec<u64> = rendered
            .lines()
            .filter_map(|l| l.trim().strip_prefix("terminationGracePeriodSeconds: "))
            .map(|n| n.parse().unwrap())
            .collect();
        assert_eq!(graces.len(), 4, "{name}: the four services set their termination grace");
        let maps = config_maps(&rendered);
        assert_eq!(maps.len(), 1, "{name}: one ConfigMap");
        let generated = std::fs::read_to_string(overlay.join("ocop.toml")).unwrap();
        assert_eq!(maps[0], generated, "{name}: the ConfigMap holds ocop.toml as it is");
        let file = scratch.join(format!("{name}.toml"));
        std::fs::write(&file, &maps[0]).unwrap();
        let config = Config::load(Some(&file), &serde_json::json!({}))
            .unwrap_or_else(|e| panic!("overlays/{name}: the rendered ocop.toml does not load: {e}"));
        let namespace = format!("ocop-{name}");
        for service in ServiceName::ALL {
            let to = config.services.get(service);
            assert!(
                to.url.starts_with(&format!("http://{service}-pods.{namespace}.svc:")),
                "{name}: {service} is dialled by its headless Service, not {}",
                to.url
            );
            assert!(
                to.balance.is_some(),
                "{name}: calls to {service} are balanced over its pods"
            );
        }
        if name == "national" {
            assert_eq!(config.deployment.role, DeploymentRole::National);
            let codes: Vec<_> = config
                .federation
                .provinces
                .iter()
                .map(|p| p.province_code.as_str())
                .collect();
            assert_eq!(codes, PROVINCE_CODES_2025, "national follows exactly the 34 provinces");
            for peer in &config.federation.provinces {
                let ns = format!("ocop-{}", peer.province_code);
                for url in [&peer.registry_url, &peer.evaluation_url, &peer.certification_url] {
                    assert!(url.contains(&format!(".{ns}.svc:")), "{url}");
                }
                assert_eq!(peer.source("registry"), format!("{}/registry", peer.province_code));
            }
        } else {
            assert_eq!(config.deployment.role, DeploymentRole::Province);
            assert_eq!(config.deployment.province_code.as_deref(), Some(name.as_str()));
            assert_eq!(config.redis.key_prefix, format!("ocop:{name}"));
            let national = config
                .federation
                .national
                .as_ref()
                .expect("follows the national certification feed");
            assert!(national.certification_url.contains(".ocop-national.svc:"));
        }
        for grace in graces {
            // The pod's grace covers the preStop pause (5 s) and the drain.
            assert!(
                grace * 1000 > config.shutdown_grace_ms + 5_000,
                "{name}: terminationGracePeriodSeconds {grace} is not above shutdown_grace_ms {} + 5 s",
                config.shutdown_grace_ms
            );
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}
