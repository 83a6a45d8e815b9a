//! Tests of signing, parsing and the threshold check with keys made in the test.

use crate::crypto::CanonicalKeyId as _;
use std::collections::BTreeMap;

use p256::ecdsa::signature::Signer as _;
use time::macros::datetime;

use super::*;
use crate::clock::FixedClock;
use crate::crypto::{CryptoError, SignatureProvider};
use crate::tuf::keys::{PublicKey, ECDSA, ECDSA_X509};
use crate::tuf::{encode_envelope, sign_role, Expires, FileMeta, Snapshot, Targets};

struct P256Signer(p256::ecdsa::SigningKey);

impl SignatureProvider for P256Signer {
    fn method(&self) -> &'static str {
        "ecdsa"
    }
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let sig: p256::ecdsa::Signature = self.0.sign(msg);
        Ok(sig.to_bytes().to_vec())
    }
}

struct FailingSigner;

impl SignatureProvider for FailingSigner {
    fn method(&self) -> &'static str {
        "ecdsa"
    }
    fn sign(&self, _: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Err(CryptoError::SigningFailed("token removed".into()))
    }
}

thread_local! {
    /// How many signatures this thread checked cryptographically.
    pub(super) static CRYPTO_CHECKS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn crypto_checks() -> usize {
    CRYPTO_CHECKS.with(|c| c.get())
}

fn signer(seed: u8) -> P256Signer {
    P256Signer(p256::ecdsa::SigningKey::from_slice(&[seed; 32]).unwrap())
}

fn public(s: &P256Signer) -> PublicKey {
    use p256::pkcs8::EncodePublicKey as _;
    let der = s.0.verifying_key().to_public_key_der().unwrap();
    PublicKey::new(ECDSA, der.as_bytes().to_vec())
}

fn role(name: &str, keys: &[&PublicKey], threshold: i64) -> BaseRole {
    BaseRole {
        name: name.to_owned(),
        keys: keys
            .iter()
            .map(|k| (k.key_id().to_string(), (*k).clone()))
            .collect(),
        threshold,
    }
}

fn targets() -> Targets {
    let mut t = Targets::new(3, Expires::parse("2030-01-01T00:00:00Z").unwrap());
    t.targets.insert(
        "a<b>&c".to_owned(),
        FileMeta::from_bytes(b"x", &["sha256"]).unwrap(),
    );
    t
}

fn sign(t: &Targets, signers: &[&P256Signer]) -> Signed<Targets> {
    let list: Vec<(KeyId, &dyn SignatureProvider)> = signers
        .iter()
        .map(|s| (public(s).key_id(), *s as &dyn SignatureProvider))
        .collect();
    Signed::from_bytes(&sign_role(t, &list).unwrap()).unwrap()
}

/// Re-encode `signed` with other signatures.
fn with_signatures(signed: &Signed<Targets>, sigs: Vec<Signature>) -> Signed<Targets> {
    let bytes = encode_envelope(&signed.canonical_signed().unwrap(), &sigs).unwrap();
    Signed::from_bytes(&bytes).unwrap()
}

#[test]
fn sign_role_writes_notary_file_format() {
    let s = signer(1);
    let bytes = sign_role(
        &targets(),
        &[(public(&s).key_id(), &s as &dyn SignatureProvider)],
    )
    .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(
        text.starts_with(r#"{"signed":{"_type":"Targets","delegations":{"keys":{},"roles":[]}"#)
    );
    assert!(text.contains(r#""a\u003cb\u003e\u0026c""#), "{text}");
    let sigs_at = text.find(r#"},"signatures":[{"keyid":""#).unwrap();
    assert!(text[sigs_at..].contains(r#"","method":"ecdsa","sig":""#));
    assert!(text.ends_with("\"}]}"));

    let parsed: Signed<Targets> = Signed::from_bytes(text.as_bytes()).unwrap();
    assert_eq!(parsed.untrusted(), &targets());
    assert_eq!(parsed.signatures()[0].sig.len(), 64);
    // What was signed is the raw (unescaped) canonical form.
    let canonical = parsed.canonical_signed().unwrap();
    assert!(canonical.windows(7).any(|w| w == b"a<b>&c\""));
}

#[test]
fn sign_role_errors_say_what_failed() {
    assert!(matches!(
        sign_role(&targets(), &[]),
        Err(TufError::NoSigners(_))
    ));
    let id = public(&signer(1)).key_id();
    let err = sign_role(
        &targets(),
        &[(id.clone(), &FailingSigner as &dyn SignatureProvider)],
    )
    .unwrap_err();
    assert!(
        matches!(&err, TufError::Signing { keyid, .. } if *keyid == id),
        "{err}"
    );
    let mut t = targets();
    t.targets.insert(
        "new\nline".into(),
        FileMeta::from_bytes(b"", &["sha256"]).unwrap(),
    );
    let s = signer(1);
    let err = sign_role(&t, &[(id, &s as &dyn SignatureProvider)]).unwrap_err();
    assert!(err.to_string().contains("control character 0x0a"), "{err}");
}

#[test]
fn one_valid_signature_meets_threshold_one() {
    let s = signer(1);
    let key = public(&s);
    let v = verify(sign(&targets(), &[&s]), &role("targets", &[&key], 1)).unwrap();
    assert_eq!(v.signed_by(), &[key.key_id()]);
    assert_eq!(v.role_name(), "targets");
    assert_eq!(v.role(), &targets());
    assert!(v.bytes().starts_with(b"{\"signed\":"));
}

#[test]
fn threshold_two_needs_two_distinct_keys() {
    let (a, b) = (signer(1), signer(2));
    let (ka, kb) = (public(&a), public(&b));
    let r = role("targets", &[&ka, &kb], 2);
    let v = verify(sign(&targets(), &[&a, &b]), &r).unwrap();
    assert_eq!(v.signed_by().len(), 2);

    let err = verify(sign(&targets(), &[&a]), &r).unwrap_err();
    assert!(
        matches!(
            err,
            TufError::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_repeated_signature_counts_once() {
    let a = signer(1);
    let ka = public(&a);
    let once = sign(&targets(), &[&a]);
    let sig = once.signatures()[0].clone();
    let twice = with_signatures(&once, vec![sig.clone(), sig]);
    assert_eq!(twice.signatures().len(), 2);
    let err = verify(twice, &role("targets", &[&ka], 2)).unwrap_err();
    assert!(
        matches!(err, TufError::ThresholdNotMet { valid: 1, .. }),
        "{err}"
    );
    // Signing twice with the same key gives the same deterministic signature; still one key.
    let err = verify(sign(&targets(), &[&a, &a]), &role("targets", &[&ka], 2)).unwrap_err();
    assert!(
        matches!(err, TufError::ThresholdNotMet { valid: 1, .. }),
        "{err}"
    );
}

#[test]
fn two_different_signatures_by_one_key_count_once() {
    use p256::ecdsa::signature::RandomizedSigner as _;
    let a = signer(1);
    let ka = public(&a);
    let once = sign(&targets(), &[&a]);
    let msg = once.canonical_signed().unwrap();
    let sigs: Vec<Signature> = (0..2)
        .map(|_| {
            let s: p256::ecdsa::Signature = a.0.sign_with_rng(&mut rand_core::OsRng, &msg);
            Signature {
                keyid: ka.key_id().to_string(),
                method: "ecdsa".into(),
                sig: s.to_vec(),
            }
        })
        .collect();
    assert_ne!(sigs[0].sig, sigs[1].sig);
    let two = with_signatures(&once, sigs);
    verify(two.clone(), &role("targets", &[&ka], 1)).unwrap();
    let err = verify(two, &role("targets", &[&ka], 2)).unwrap_err();
    assert!(
        matches!(err, TufError::ThresholdNotMet { valid: 1, .. }),
        "{err}"
    );
}

#[test]
fn one_public_key_under_two_ids_counts_once() {
    let a = signer(7);
    let plain = public(&a);
    let pem = crate::crypto::x509::root_certificate(
        &crate::crypto::private::EcdsaSigningKey::from_p256(&a.0),
        "example.com/app",
        datetime!(2026-01-01 00:00 UTC),
    )
    .unwrap();
    let cert_key = PublicKey::new(ECDSA_X509, pem.into_bytes());
    assert_ne!(cert_key.key_id(), plain.key_id());
    assert_eq!(cert_key.canonical_key_id().unwrap(), plain.key_id());

    let once = sign(&targets(), &[&a]);
    let mut as_cert = once.signatures()[0].clone();
    as_cert.keyid = cert_key.key_id().to_string();
    let both = with_signatures(&once, vec![once.signatures()[0].clone(), as_cert]);
    let r = role("targets", &[&plain, &cert_key], 2);
    // Each signature verifies on its own ...
    let v = verify(both.clone(), &role("targets", &[&plain, &cert_key], 1)).unwrap();
    assert_eq!(v.signed_by().len(), 2);
    // ... but they are one key.
    let err = verify(both, &r).unwrap_err();
    assert!(
        matches!(
            err,
            TufError::ThresholdNotMet {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn unlisted_and_invalid_signatures_are_skipped() {
    let (a, b) = (signer(1), signer(2));
    let (ka, kb) = (public(&a), public(&b));
    // Signed by b only, role lists a only: nothing counts.
    let err = verify(sign(&targets(), &[&b]), &role("targets", &[&ka], 1)).unwrap_err();
    assert!(
        matches!(err, TufError::ThresholdNotMet { valid: 0, .. }),
        "{err}"
    );

    // A corrupted signature next to a good one: the good one still counts.
    let good = sign(&targets(), &[&a, &b]);
    let mut sigs = good.signatures().to_vec();
    sigs[1].sig[5] ^= 0xff;
    let mixed = with_signatures(&good, sigs.clone());
    verify(mixed.clone(), &role("targets", &[&ka, &kb], 1)).unwrap();
    assert!(verify(mixed, &role("targets", &[&ka, &kb], 2)).is_err());

    // A valid signature under a method that does not suit the key is not counted.
    let mut wrong_method = good.signatures().to_vec();
    wrong_method
        .iter_mut()
        .for_each(|s| s.method = "eddsa".into());
    let err = verify(
        with_signatures(&good, wrong_method),
        &role("targets", &[&ka, &kb], 1),
    )
    .unwrap_err();
    assert!(
        matches!(err, TufError::ThresholdNotMet { valid: 0, .. }),
        "{err}"
    );
}

#[test]
fn a_key_listed_under_a_wrong_id_is_a_hard_error() {
    let (a, b) = (signer(1), signer(2));
    let (ka, kb) = (public(&a), public(&b));
    // The role maps a's ID to b's key.
    let r = BaseRole {
        name: "targets".into(),
        keys: BTreeMap::from([(ka.key_id().to_string(), kb)]),
        threshold: 1,
    };
    let err = verify(sign(&targets(), &[&a]), &r).unwrap_err();
    assert!(
        matches!(&err, TufError::KeyIdMismatch { listed, .. } if *listed == ka.key_id().to_string()),
        "{err}"
    );
}

#[test]
fn no_signatures_and_bad_thresholds_are_rejected() {
    let a = signer(1);
    let ka = public(&a);
    let none = with_signatures(&sign(&targets(), &[&a]), vec![]);
    assert!(matches!(
        verify(none, &role("targets", &[&ka], 1)),
        Err(TufError::NoSignatures { .. })
    ));
    let err = verify(sign(&targets(), &[&a]), &role("targets", &[&ka], 0)).unwrap_err();
    assert!(err.to_string().contains("threshold is 0"), "{err}");
}

#[test]
fn wrong_type_and_bad_structure_are_rejected() {
    let a = signer(1);
    let ka = public(&a);
    let bytes = sign(&targets(), &[&a]).bytes().to_vec();
    // A targets file offered as snapshot parses, but is not a Snapshot.
    let as_snapshot: Signed<Snapshot> = Signed::from_bytes(&bytes).unwrap();
    let err = verify(as_snapshot, &role("snapshot", &[&ka], 1)).unwrap_err();
    assert!(
        matches!(
            err,
            TufError::WrongType {
                expected: "Snapshot",
                ..
            }
        ),
        "{err}"
    );

    // Properly signed, but it delegates to a grandchild: structure check fails.
    let mut t = targets();
    t.delegations.roles.push(crate::tuf::DelegationRole::new(
        "targets/a/b",
        vec![],
        1,
        vec![],
    ));
    let err = verify(sign(&t, &[&a]), &role("targets", &[&ka], 1)).unwrap_err();
    assert!(err.to_string().contains("direct child"), "{err}");
}

#[test]
fn rotation_needs_both_thresholds() {
    let (old, new) = (signer(1), signer(2));
    let (ko, kn) = (public(&old), public(&new));
    let (r_old, r_new) = (role("targets", &[&ko], 1), role("targets", &[&kn], 1));
    let v = verify_with_roles(sign(&targets(), &[&old, &new]), &[&r_old, &r_new]).unwrap();
    assert_eq!(v.signed_by().len(), 2);
    assert!(verify_with_roles(sign(&targets(), &[&new]), &[&r_old, &r_new]).is_err());
    assert!(verify_with_roles(sign(&targets(), &[&old]), &[&r_old, &r_new]).is_err());
    assert!(verify_with_roles(sign(&targets(), &[&old]), &[]).is_err());
}

#[test]
fn expiry_and_version_checks() {
    let a = signer(1);
    let v = verify(sign(&targets(), &[&a]), &role("targets", &[&public(&a)], 1)).unwrap();
    v.check_expiry(&FixedClock(datetime!(2029-12-31 23:59:59 UTC)))
        .unwrap();
    v.check_expiry(&FixedClock(datetime!(2030-01-01 00:00:00 UTC)))
        .unwrap();
    let err = v
        .check_expiry(&FixedClock(datetime!(2030-01-01 00:00:01 UTC)))
        .unwrap_err();
    assert!(
        matches!(&err, TufError::Expired { role, expires } if role == "targets" && expires == "2030-01-01T00:00:00Z"),
        "{err}"
    );
    v.check_min_version(3).unwrap();
    v.check_min_version(1).unwrap();
    let err = v.check_min_version(4).unwrap_err();
    assert!(
        matches!(
            err,
            TufError::LowVersion {
                version: 3,
                min: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn envelope_parsing_is_as_tolerant_as_go() {
    let a = signer(1);
    let signed = sign(&targets(), &[&a]);
    let text = String::from_utf8(signed.bytes().to_vec()).unwrap();
    // Upper-case method names are lower-cased.
    let upper = text.replace(r#""method":"ecdsa""#, r#""method":"ECDSA""#);
    let parsed: Signed<Targets> = Signed::from_bytes(upper.as_bytes()).unwrap();
    assert_eq!(parsed.signatures()[0].method, "ecdsa");
    verify(parsed, &role("targets", &[&public(&a)], 1)).unwrap();
    // `signatures: null` parses as none.
    let canonical = String::from_utf8(signed.canonical_signed().unwrap()).unwrap();
    let nulls = format!(r#"{{"signed":{canonical},"signatures":null}}"#);
    assert!(Signed::<Targets>::from_bytes(nulls.as_bytes())
        .unwrap()
        .signatures()
        .is_empty());
    // Legacy `RSA` method of tuf/data/types_test.go.
    let legacy: Signature =
        serde_json::from_str(r#"{"keyid":"97e8","method":"RSA","sig":"AAEC"}"#).unwrap();
    assert_eq!(
        (legacy.method.as_str(), legacy.sig.as_slice()),
        ("rsa", &[0u8, 1, 2][..])
    );

    for bad in [
        &b"not json"[..],
        br#"{"signatures":[]}"#,
        br#"{"signed":[1],"signatures":[]}"#,
    ] {
        let err = Signed::<Targets>::from_bytes(bad).unwrap_err();
        assert!(matches!(err, TufError::Malformed(_)), "{err}");
    }
}

#[test]
fn signatures_cover_the_parsed_value_not_our_re_serialization() {
    // A Go-written document whose typed form re-serializes differently: no
    // `delegations`, `custom: null`, a null key ID list, an unknown field.
    let a = signer(3);
    let ka = public(&a);
    let doc = serde_json::json!({
        "_type": "Targets",
        "expires": "2030-01-01T00:00:00.5-05:00",
        "targets": {"x": {"custom": null, "hashes": {"sha256": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}, "length": 0}},
        "version": 1,
        "x-extension": {"b": [1, 2], "a": null}
    });
    let bytes = sign_role(&doc, &[(ka.key_id(), &a as &dyn SignatureProvider)]).unwrap();
    let signed: Signed<Targets> = Signed::from_bytes(&bytes).unwrap();
    let typed = crate::tuf::cjson::to_canonical_from(signed.untrusted()).unwrap();
    assert_ne!(
        typed,
        signed.canonical_signed().unwrap(),
        "the test needs a differing re-serialization"
    );
    let v = verify(signed, &role("targets", &[&ka], 1)).unwrap();
    assert_eq!(
        v.role().extra["x-extension"],
        serde_json::json!({"a": null, "b": [1, 2]})
    );
    assert_eq!(v.role().expires.as_str(), "2030-01-01T00:00:00.5-05:00");
}

/// A file stuffed with copies of one listed key's signature and with signatures under
/// unlisted IDs costs one signature check: the first under each listed ID decides, the
/// others (and unlisted ones) are skipped without crypto.
#[test]
fn only_the_first_signature_per_listed_key_id_is_checked() {
    let (a, b) = (signer(1), signer(2));
    let (ka, kb) = (public(&a), public(&b));
    let good = sign(&targets(), &[&a]);
    let sig = good.signatures()[0].clone();
    let mut stuffed = vec![sig.clone(); 200];
    for i in 0..50u8 {
        let mut s = sig.clone();
        s.keyid = hex::encode([i; 32]);
        stuffed.push(s);
    }
    let stuffed = with_signatures(&good, stuffed);
    let before = crypto_checks();
    let v = verify(stuffed.clone(), &role("targets", &[&ka], 1)).unwrap();
    assert_eq!(v.signed_by(), &[ka.key_id()]);
    assert_eq!(
        crypto_checks() - before,
        1,
        "one check for one listed key ID"
    );
    // A role listing two keys: still one check per listed ID that signed (b did not).
    let before = crypto_checks();
    assert!(verify(stuffed, &role("targets", &[&ka, &kb], 2)).is_err());
    assert_eq!(crypto_checks() - before, 1);

    // The first signature under an ID is the one that counts: a bad one first is not
    // rescued by a good one after it.
    let mut bad = sig.clone();
    bad.sig[5] ^= 0xff;
    let err = verify(
        with_signatures(&good, vec![bad, sig.clone()]),
        &role("targets", &[&ka], 1),
    )
    .unwrap_err();
    assert!(
        matches!(err, TufError::ThresholdNotMet { valid: 0, .. }),
        "{err}"
    );
}

/// At most [`MAX_SIGNATURES`](crate::tuf::signed::MAX_SIGNATURES) signatures are read;
/// one more and the file is refused while it is parsed, with a message that says why.
#[test]
fn files_with_too_many_signatures_are_refused_when_parsed() {
    use crate::tuf::signed::MAX_SIGNATURES;
    let a = signer(1);
    let good = sign(&targets(), &[&a]);
    let msg = good.canonical_signed().unwrap();
    let sig = good.signatures()[0].clone();
    let at_cap = encode_envelope(&msg, &vec![sig.clone(); MAX_SIGNATURES]).unwrap();
    let parsed = Signed::<Targets>::from_bytes(&at_cap).unwrap();
    assert_eq!(parsed.signatures().len(), MAX_SIGNATURES);
    verify(parsed, &role("targets", &[&public(&a)], 1)).unwrap();
    let over = encode_envelope(&msg, &vec![sig; MAX_SIGNATURES + 1]).unwrap();
    let err = Signed::<Targets>::from_bytes(&over).unwrap_err();
    assert!(matches!(err, TufError::Malformed(_)), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("more than {MAX_SIGNATURES} signatures")),
        "{err}"
    );
    assert_eq!(err.exit_code(), crate::exit::ExitCode::NotTrusted);
    // `null` and a missing list are still no signatures (as in Go).
    for body in [
        format!(
            "{{\"signed\":{},\"signatures\":null}}",
            String::from_utf8_lossy(&msg)
        ),
        format!("{{\"signed\":{}}}", String::from_utf8_lossy(&msg)),
    ] {
        assert!(Signed::<Targets>::from_bytes(body.as_bytes())
            .unwrap()
            .signatures()
            .is_empty());
    }
}
