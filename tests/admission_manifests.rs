//! `vouch admission manifests`: the deployment YAML, read back by the real kubectl; the
//! example policy in deploy/ loads; a bad policy stops `admission serve` at start with the
//! rule named.

mod support;

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use support::{fails, ok};

/// Every object of a YAML stream, as kubectl parses it.
fn kubectl_objects(file: &Path) -> Vec<Value> {
    let out = support::kubectl(&[
        "patch",
        "--local",
        "--type=json",
        "-p",
        "[]",
        "-o",
        "json",
        "-f",
        file.to_str().unwrap(),
    ]);
    serde_json::Deserializer::from_str(&out)
        .into_iter::<Value>()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn manifests_deploy_the_webhook_as_the_issue_describes() {
    let dir = tempfile::tempdir().unwrap();
    let tls = support::tls::make_tls_files();
    let image = format!(
        "registry.example.com/vouch:0.1.0@sha256:{}",
        "ab".repeat(32)
    );
    let out = ok(
        support::vouch(dir.path()),
        &[
            "admission",
            "manifests",
            "--namespace",
            "trust-system",
            "--image",
            &image,
            "--ca-bundle",
            tls.ca_cert.to_str().unwrap(),
        ],
    );
    let file = dir.path().join("webhook.yaml");
    std::fs::write(&file, &out.stdout).unwrap();
    let objects = kubectl_objects(&file);
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "ServiceAccount",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "MutatingWebhookConfiguration"
        ]
    );
    let get = |k: &str| objects.iter().find(|o| o["kind"] == k).unwrap();

    let d = get("Deployment");
    assert_eq!(d["metadata"]["namespace"], "trust-system");
    assert_eq!(d["spec"]["replicas"], 3);
    let pod = &d["spec"]["template"]["spec"];
    assert!(pod["affinity"]["podAntiAffinity"].is_object());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["image"], image.as_str());
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    let args: Vec<&str> = c["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(&args[..2], ["admission", "serve"]);
    assert!(args.contains(&"--deadline=8"), "{args:?}");
    let volumes = pod["volumes"].to_string();
    assert!(volumes.contains("vouch-admission-tls") && volumes.contains("vouch-admission-policy"));
    assert_eq!(get("PodDisruptionBudget")["spec"]["minAvailable"], 1);

    let w = &get("MutatingWebhookConfiguration")["webhooks"][0];
    assert_eq!(w["failurePolicy"], "Fail");
    assert_eq!(w["sideEffects"], "None");
    assert_eq!(w["timeoutSeconds"], 10);
    assert_eq!(w["admissionReviewVersions"][0], "v1");
    assert_eq!(w["clientConfig"]["service"]["path"], "/mutate");
    assert_eq!(
        w["clientConfig"]["caBundle"],
        base64::engine::general_purpose::STANDARD.encode(std::fs::read(&tls.ca_cert).unwrap())
    );
    let sel = &w["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(sel["key"], "kubernetes.io/metadata.name");
    assert_eq!(sel["operator"], "NotIn");
    assert_eq!(sel["values"][0], "trust-system");
    let mut resources: Vec<String> = w["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r["resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
        })
        .collect();
    resources.sort();
    assert_eq!(
        resources,
        [
            "cronjobs",
            "daemonsets",
            "deployments",
            "jobs",
            "pods",
            "pods/ephemeralcontainers",
            "replicasets",
            "replicationcontrollers",
            "statefulsets"
        ]
    );

    // Bad input is refused with exit 2.
    let e = fails(
        support::vouch(dir.path()),
        &["admission", "manifests", "--image", "Not An Image"],
        2,
    );
    assert!(e.stderr.contains("--image"), "{}", e.stderr);
    let e = fails(
        support::vouch(dir.path()),
        &[
            "admission",
            "manifests",
            "--image",
            "x:1",
            "--ca-bundle",
            file.to_str().unwrap(),
        ],
        2,
    );
    assert!(e.stderr.contains("no PEM certificate"), "{}", e.stderr);
}

#[test]
fn the_example_policy_loads_and_a_bad_policy_stops_serve() {
    let dir = tempfile::tempdir().unwrap();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/policy.example.yaml");
    let policy = dir.path().join("policy.yaml");
    std::fs::copy(&example, &policy).unwrap();
    std::fs::write(
        dir.path().join("vouch-trust.json"),
        r#"{"vouch_trust_lock": 1, "repositories": {}}"#,
    )
    .unwrap();
    let p = vouch::admission::policy::Policy::load(&policy).unwrap();
    assert_eq!(p.rules.len(), 3);
    assert_eq!(
        p.rule_for("registry.example.com/team/app/api", "prod")
            .unwrap()
            .signers,
        ["targets/releases"]
    );

    let tls = support::tls::make_tls_files();
    std::fs::write(
        &policy,
        "default: deny\nrules:\n  - match: registry.example.com/*\n    action: verify\n",
    )
    .unwrap();
    let e = fails(
        support::vouch(dir.path()),
        &[
            "admission",
            "serve",
            "--policy",
            policy.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            tls.server_cert.to_str().unwrap(),
            "--tls-key",
            tls.server_key.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        e.stderr.contains("rule 1 (registry.example.com/*)")
            && e.stderr.contains("needs `trust_lock`"),
        "{}",
        e.stderr
    );
}
