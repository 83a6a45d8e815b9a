//! OCI signatures from the repository's keys, against a real docker-registry (2.8, no
//! referrers API: the tag-schema fallback index is the path taken) with images pushed by
//! skopeo: cosign signatures checked by an independent implementation (the `sigstore`
//! crate, key-based, no transparency log), Notary Project JWS envelopes and certificates
//! checked with the openssl CLI, the fallback index after two signers, `verify --format`,
//! `migrate oci` on a repository published by the real notary CLI, `oci export-trust`.

mod support;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use support::registry::{sha256_digest, OciLayout, Registry};
use support::{fails, ok, Notary, NotaryServer};

fn v(trust: &Path) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.env_remove("VOUCH_USERNAME")
        .env_remove("VOUCH_PASSWORD")
        .env_remove("NOTARY_AUTH")
        .env("DOCKER_CONFIG", trust.join("no-docker-config"));
    c
}

/// A trust dir with `gun` initialized on its own static repository.
fn init_static(gun: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    ok(v(t.path()), &["init", gun]);
    t
}

/// `GET http://127.0.0.1:PORT/v2/<path>` body (the registry is open).
fn get(reg: &Registry, path: &str) -> Vec<u8> {
    let (status, body) = support::http_get(reg.port, &format!("/v2/{path}"));
    assert_eq!(status, 200, "GET /v2/{path}: {}", String::from_utf8_lossy(&body));
    body
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new(support::require_binary("openssl"))
        .args(args)
        .output()
        .expect("run openssl")
}

/// Pushes a one-layer image as `demo/app:<tag>`; its manifest descriptor.
fn push_image(reg: &Registry, work: &Path, tag: &str, content: &str) -> support::registry::Descriptor {
    let mut l = OciLayout::new(&work.join(format!("oci-{tag}-{}", content.len())));
    let d = l.add_image(tag, content, "amd64");
    reg.push_oci(&l, tag, &format!("demo/app:{tag}"));
    d
}

/// cosign's verification by the `sigstore` crate: the image's `.sig` signatures checked
/// with the PEM public key `key`.
fn sigstore_verifies(image: &str, key: &[u8]) -> bool {
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    use sigstore::cosign::{ClientBuilder, CosignCapabilities};
    use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = ClientBuilder::default()
            .with_oci_client_config(ClientConfig {
                protocol: ClientProtocol::Http,
                ..Default::default()
            })
            .build()
            .unwrap();
        let reference: OciReference = image.parse().unwrap();
        let layers = client
            .trusted_signature_layers(&Auth::Anonymous, &reference)
            .await
            .unwrap();
        assert!(!layers.is_empty(), "sigstore found no signature layers for {image}");
        let constraints: VerificationConstraintVec =
            vec![Box::new(PublicKeyVerifier::try_from(key).unwrap())];
        sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok()
    })
}

fn other_p256_pem(dir: &Path) -> Vec<u8> {
    let key = dir.join("other.key");
    let o = openssl(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.to_str().unwrap()]);
    assert!(o.status.success());
    let o = openssl(&["ec", "-in", key.to_str().unwrap(), "-pubout"]);
    assert!(o.status.success());
    o.stdout
}

#[test]
fn cosign_signature_verifies_with_sigstore_and_not_with_another_key() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let image = push_image(&reg, work.path(), "1.0", "cosign content");
    let gun = reg.image("demo/app");
    let trust = init_static(&gun);
    let t = trust.path();
    let o = ok(v(t), &["sign", &format!("{gun}:1.0"), "--oci", "cosign"]);
    assert_eq!(o.stdout.trim(), format!("{gun}:1.0@{}", image.digest));
    assert!(o.stderr.contains("cosign signature published"), "{}", o.stderr);

    // The signature manifest under sha256-<hex>.sig: one simple-signing layer whose
    // payload names the image digest.
    let sig_tag = format!("sha256-{}.sig", image.hex());
    let m = json(&reg.inspect_raw(&format!("demo/app:{sig_tag}")));
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = get(&reg, &format!("demo/app/blobs/{}", layers[0]["digest"].as_str().unwrap()));
    let p = json(&payload);
    assert_eq!(p["critical"]["image"]["docker-manifest-digest"], image.digest.as_str());
    assert_eq!(p["critical"]["identity"]["docker-reference"], gun.as_str());
    assert_eq!(p["critical"]["type"], "cosign container image signature");

    // cosign.pub from the verified metadata: the targets key.
    let out = work.path().join("export");
    ok(v(t), &["oci", "export-trust", &gun, "--out", out.to_str().unwrap()]);
    let cosign_pub = std::fs::read(out.join("cosign.pub")).unwrap();
    let image_ref = format!("{gun}:1.0");
    assert!(sigstore_verifies(&image_ref, &cosign_pub), "sigstore rejected the signature");
    let other = other_p256_pem(work.path());
    assert!(!sigstore_verifies(&image_ref, &other), "sigstore accepted another key");

    // And openssl agrees on the DER signature over the payload bytes.
    let sig = base64::engine::general_purpose::STANDARD
        .decode(
            layers[0]["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    std::fs::write(work.path().join("payload"), &payload).unwrap();
    std::fs::write(work.path().join("sig.der"), &sig).unwrap();
    let w = |n: &str| work.path().join(n).to_str().unwrap().to_owned();
    let o = openssl(&["dgst", "-sha256", "-verify", &w("export/cosign.pub"), "-signature", &w("sig.der"), &w("payload")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}
