//! vouch's cosign and Notary Project verifiers on signatures made by the real tools
//! (testdata/oci, see its PROVENANCE): each verifies with its signer's key, and fails
//! with another key, another digest, or a changed byte.

use std::path::PathBuf;

use time::OffsetDateTime;
use vouch::crypto::private::{Algorithm, PrivateKey};
use vouch::crypto::verify::VerifyingKey;
use vouch::oci::cosign::{self, Layer};
use vouch::oci::{cert, notation, TrustedKey};
use vouch::tuf::keys::PublicKey;
use vouch::tuf::KeyId;

fn data(p: &str) -> Vec<u8> {
    std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/oci")
            .join(p),
    )
    .unwrap()
}

fn trusted(keytype: &str, spki: Vec<u8>, role: &str) -> TrustedKey {
    let key = PublicKey::new(keytype, spki);
    TrustedKey {
        role: role.into(),
        key_id: key.key_id(),
        key: VerifyingKey::from_public_key(&key).unwrap(),
    }
}

fn another_key() -> TrustedKey {
    let k = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let p = k.public_key();
    TrustedKey {
        role: "targets".into(),
        key_id: KeyId::parse(&"0".repeat(64)).unwrap(),
        key: VerifyingKey::from_public_key(&p).unwrap(),
    }
}

const COSIGN_DIGEST: &str =
    "sha256:f3cfc9d0dbf931d3db4685ec659b7ac68e2a578219da4aae65427886e649b06b";

fn cosign_sample() -> (Layer, TrustedKey) {
    let pem = pem::parse(data("cosign/busybox.pub")).unwrap();
    let layer = Layer {
        payload: data("cosign/busybox.payload.json"),
        signature_b64: String::from_utf8(data("cosign/busybox.sig.b64")).unwrap(),
    };
    (layer, trusted("ecdsa", pem.contents().to_vec(), "targets"))
}

#[test]
fn a_cosign_signature_made_by_cosign_verifies_with_its_key_only() {
    let (layer, key) = cosign_sample();
    let keys = vec![key];
    let k = cosign::verify_layer(&layer, COSIGN_DIGEST, &keys).unwrap();
    assert_eq!(k.role, "targets");

    // Another key, another digest, a changed payload: no.
    let e = cosign::verify_layer(&layer, COSIGN_DIGEST, &[another_key()]).unwrap_err();
    assert!(e.contains("none of the keys"), "{e}");
    let other = COSIGN_DIGEST.replace("f3cf", "0000");
    let e = cosign::verify_layer(&layer, &other, &keys).unwrap_err();
    assert!(e.contains("not sha256:0000"), "{e}");
    let mut changed = layer.clone();
    changed.payload = String::from_utf8(layer.payload.clone())
        .unwrap()
        .replace("busybox", "busyb0x")
        .into_bytes();
    assert!(cosign::verify_layer(&changed, COSIGN_DIGEST, &keys).is_err());
}

/// The leaf certificate of an envelope and its key as a trusted key.
fn leaf_key(envelope: &[u8]) -> (Vec<u8>, TrustedKey) {
    use base64::Engine as _;
    let v: serde_json::Value = serde_json::from_slice(envelope).unwrap();
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(v["header"]["x5c"][0].as_str().unwrap())
        .unwrap();
    let info = vouch::crypto::x509::parse_certificate_der(&leaf).unwrap();
    (leaf, trusted("rsa", info.spki_der, "targets"))
}

#[test]
fn notation_signatures_made_by_notation_verify_with_their_key_only() {
    let now = OffsetDateTime::now_utc();
    for (file, digest) in [
        (
            "notation/withoutTimestamp.sig",
            "sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda",
        ),
        (
            "notation/jws_signature.sig",
            "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0",
        ),
    ] {
        let env = data(file);
        let (leaf, key) = leaf_key(&env);
        // notation's own certificate meets the leaf rules vouch checks.
        cert::check_leaf_rules(&leaf).unwrap_or_else(|b| panic!("{file}: {b:?}"));
        let keys = vec![key];
        notation::verify_envelope(&env, digest, &keys, now)
            .unwrap_or_else(|e| panic!("{file}: {e}"));

        let e = notation::verify_envelope(&env, digest, &[another_key()], now).unwrap_err();
        assert!(e.contains("not one of the keys"), "{file}: {e}");
        let other = digest.replace("sha256:", "sha256:0");
        let other = &other[..71];
        let e = notation::verify_envelope(&env, other, &keys, now).unwrap_err();
        assert!(e.contains("the payload signs"), "{file}: {e}");
        // One changed character of the signature.
        let mut v: serde_json::Value = serde_json::from_slice(&env).unwrap();
        let sig = v["signature"].as_str().unwrap().to_owned();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        v["signature"] = serde_json::json!(format!("{flipped}{}", &sig[1..]));
        let e = notation::verify_envelope(&serde_json::to_vec(&v).unwrap(), digest, &keys, now)
            .unwrap_err();
        assert!(e.contains("does not verify"), "{file}: {e}");
        // A header outside the signature cannot claim criticality for something unknown.
        let mut v: serde_json::Value = serde_json::from_slice(&env).unwrap();
        v["protected"] = serde_json::json!("e30");
        assert!(
            notation::verify_envelope(&serde_json::to_vec(&v).unwrap(), digest, &keys, now)
                .is_err()
        );
    }
}

#[test]
fn a_notary_v1_root_certificate_fails_notations_leaf_rules() {
    let k = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let pem = vouch::crypto::x509::root_certificate(
        k.ecdsa_signing_key().unwrap(),
        "registry.example.com/team/app",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    let der = pem::parse(pem).unwrap().contents().to_vec();
    let broken = cert::check_leaf_rules(&der).unwrap_err();
    assert_eq!(broken, vec!["keyUsage has keyEncipherment".to_owned()]);
}
