use super::*;

#[test]
fn format_lists() {
    assert_eq!(
        Format::parse_list("notation, cosign,cosign").unwrap(),
        vec![Format::Cosign, Format::Notation]
    );
    assert!(Format::parse_list("cosign,gpg")
        .unwrap_err()
        .contains("gpg"));
}

#[test]
fn der_and_raw_signatures_round_trip() {
    let key =
        crate::crypto::private::PrivateKey::generate(crate::crypto::private::Algorithm::Ecdsa)
            .unwrap();
    let raw = key.sign(b"msg").unwrap();
    let der = raw_to_der(&raw).unwrap();
    assert_eq!(der[0], 0x30);
    assert_eq!(der_to_raw(&der).unwrap(), raw);
}

fn subject() -> Subject {
    Subject {
        registry: "registry.example.com".into(),
        repository: "team/app".into(),
        digest: format!("sha256:{}", "ab".repeat(32)),
        size: 528,
        media_type: OCI_MANIFEST.into(),
    }
}

#[test]
fn cosign_payload_and_tags_as_cosign_writes_them() {
    let s = subject();
    assert_eq!(
        String::from_utf8(cosign::payload(&s)).unwrap(),
        format!(
            r#"{{"critical":{{"identity":{{"docker-reference":"registry.example.com/team/app"}},"image":{{"docker-manifest-digest":"{}"}},"type":"cosign container image signature"}},"optional":null}}"#,
            s.digest
        )
    );
    assert_eq!(
        cosign::signature_tag(&s.digest),
        format!("sha256-{}.sig", "ab".repeat(32))
    );
    assert_eq!(
        referrers::fallback_tag(&s.digest),
        format!("sha256-{}", "ab".repeat(32))
    );
}

#[test]
fn signs_and_verifies_both_formats_with_one_ecdsa_key_and_refuses_others() {
    use crate::crypto::private::{Algorithm, PrivateKey};
    let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let public = key.public_key();
    let signer = Signer::new("targets", public.key_id(), &public, &key).unwrap();
    let s = subject();
    let trusted = vec![TrustedKey {
        role: "targets".into(),
        key_id: public.key_id(),
        key: signer.verifying_key().unwrap(),
    }];

    // cosign: a layer made here verifies; another digest does not.
    let payload = cosign::payload(&s);
    use base64::Engine as _;
    let layer = cosign::Layer {
        signature_b64: base64::engine::general_purpose::STANDARD
            .encode(signer.sign_der(&payload).unwrap()),
        payload,
    };
    assert_eq!(
        cosign::verify_layer(&layer, &s.digest, &trusted)
            .unwrap()
            .role,
        "targets"
    );
    assert!(cosign::verify_layer(&layer, "sha256:00", &trusted).is_err());

    // notation: the certificate meets the leaf rules; the envelope verifies.
    let now = time::OffsetDateTime::now_utc();
    let der = cert::make_certificate(
        &signer,
        "registry.example.com/team/app",
        now.unix_timestamp(),
    )
    .unwrap();
    cert::check_leaf_rules(&der).unwrap();
    assert_eq!(cert::spki_of(&der).unwrap(), signer.spki_der);
    let env = notation::sign_envelope(&s, &signer, &der, now).unwrap();
    notation::verify_envelope(&env, &s.digest, &trusted, now).unwrap();
    // Past the certificate's validity it no longer verifies.
    let later = now + time::Duration::days(11 * 365);
    assert!(notation::verify_envelope(&env, &s.digest, &trusted, later)
        .unwrap_err()
        .contains("expired"));

    // Ed25519 keys make no OCI signatures.
    let ed = PrivateKey::generate(Algorithm::Ed25519).unwrap();
    let edp = ed.public_key();
    assert!(matches!(
        Signer::new("targets", edp.key_id(), &edp, &ed),
        Err(OciError::UnsupportedKey { .. })
    ));
}
