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

/// A delegation's key counts for a tag only where every delegation above it allows the
/// tag (as Notary v1 targets are looked up): `targets/a` may sign `v…`; `targets/a/b`,
/// below it, lists every path in `targets/a`'s file (written by whoever holds the
/// `targets/a` key). Its key must not count for `x1`. A role whose threshold one OCI
/// signature cannot meet does not count at all.
#[test]
fn a_delegation_key_counts_only_where_every_parent_allows_the_tag() {
    use crate::crypto::private::{Algorithm, PrivateKey};
    use crate::tuf::root::RoleKeys;
    use crate::tuf::targets::{DelegationRole, Targets};
    use crate::tuf::{Expires, Root};
    use std::collections::BTreeMap;

    let key = || PrivateKey::generate(Algorithm::Ecdsa).unwrap().public_key();
    let (kt, ka, kb, kc) = (key(), key(), key(), key());
    let id = |k: &crate::tuf::PublicKey| k.key_id().to_string();
    let expires = Expires::new(time::OffsetDateTime::now_utc() + time::Duration::days(30)).unwrap();
    let mut keys = BTreeMap::new();
    keys.insert(id(&kt), kt.clone());
    let mut roles = BTreeMap::new();
    for r in ["root", "targets", "snapshot", "timestamp"] {
        roles.insert(r.to_owned(), RoleKeys::new(vec![id(&kt)], 1));
    }
    let root = Root::new(1, expires.clone(), keys, roles);

    let mut top = Targets::new(1, expires.clone());
    top.delegations.keys.insert(id(&ka), ka.clone());
    top.delegations.keys.insert(id(&kc), kc.clone());
    top.delegations.roles.push(DelegationRole::new(
        "targets/a",
        vec![id(&ka)],
        1,
        vec!["v".into()],
    ));
    top.delegations.roles.push(DelegationRole::new(
        "targets/c",
        vec![id(&kc)],
        2,
        vec!["".into()],
    ));
    let mut a = Targets::new(1, expires.clone());
    a.delegations.keys.insert(id(&kb), kb.clone());
    a.delegations.roles.push(DelegationRole::new(
        "targets/a/b",
        vec![id(&kb)],
        1,
        vec!["".into()],
    ));
    let files: BTreeMap<String, Targets> = [
        ("targets".to_owned(), top),
        ("targets/a".to_owned(), a),
        ("targets/a/b".to_owned(), Targets::new(1, expires.clone())),
        ("targets/c".to_owned(), Targets::new(1, expires)),
    ]
    .into();
    let lookup = |n: &str| files.get(n);
    let roles_for = |tag: &str| {
        let mut r: Vec<String> =
            keys_for(&root, &lookup, files.keys().map(String::as_str), Some(tag))
                .into_iter()
                .map(|k| k.role)
                .collect();
        r.sort();
        r
    };
    assert_eq!(roles_for("v1"), ["targets", "targets/a", "targets/a/b"]);
    assert_eq!(roles_for("x1"), ["targets"]);
}
