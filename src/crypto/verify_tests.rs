//! Tests of `crypto::verify` against the protocol §12.3 vectors and notary's fixtures.

use super::*;
use crate::tuf::keys::{ECDSA, ED25519, RSA, RSA_X509};

const FIXTURE_03: &str = "testdata/notary-fixtures/notary0.3/tuf/docker.com/notary0.3/tst/metadata";

fn fixture(rel: &str) -> Vec<u8> {
    let path = format!("{}/{FIXTURE_03}/{rel}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn base_ecdsa_x509_key() -> PublicKey {
    crate::tuf::keys::tests::base_ecdsa_x509_key()
}

/// §12.3: `ecdsa` by `baseECDSAx509Key` over `test data for signing`.
const ECDSA_SIG_HEX: &str = "b82e0ed5c5dddd74c8d3602bfd900c423511697c3cfe54e1d56b9c1df599695c53aa0caafcdc40df3ef496d78ccf67750ba9413f1ccbd8b0ef137f0da1ee9889";
const ECDSA_MSG: &[u8] = b"test data for signing";

/// §12.3: `eddsa` (PyNaCl compat test of notary).
const ED25519_KEY_HEX: &str = "846612b43cef909a0e4ea9c818379bca4723a2020619f95e7a0ccc6f0850b7dc";
const ED25519_SIG_HEX: &str = "166e7013e48f26dccb4e68fe4cf558d1cd3af902f8395534336a7f8b4c56588694aa3ac671767246298a59d5ef4224f02c854f41bfcfe70241db4be1546d6a00";
const ED25519_MSG: &[u8] = b"The quick brown fox jumps over the lazy dog.";

/// PKCS#1 v1.5 SHA-256 signature over `test data for signing` by the notary0.3
/// `targets/releases` RSA key (fixture `fa842f66….key`, passphrase `password`), made with
/// `openssl dgst -sha256 -sign`.
const RSA_PKCS1V15_SIG_HEX: &str = "198d76a5e41c78455892ec45e1811f36da04cefd4b13f5782d1b4872d31bd1f8c5f3c330f14e464a33775c7a48eaf84251841f05ae5ed092f95d62b117ec2ce356456f470951e19703f6cc0e343ecbda6fe1f4f4bb39a347debf18d37b776684527146d65330283a49b302c787a9732fc10bb83df4bdbe22fff39ad5e1ec318c36e5c84aca36dca831c9b3e87c0316365c06746c64e62515b03bc1f6fb118bd38859e468bc629e3c711498ddeee06e3ee029e31ced959062bddde7a6c64098c3199554f48c7a26baba2c481b290440c01af5ad83da2e5b6c3a69ee65d0f905b140f95ec3267bea08e87105cc5e1b598d22806d6bf568ad2999035da1e4ccfdc4";

fn ed25519_key() -> PublicKey {
    PublicKey::new(ED25519, hex::decode(ED25519_KEY_HEX).unwrap())
}

/// The `rsa-x509` delegation key of notary0.3 and the releases.json signature and
/// canonical message it covers.
fn releases_vector() -> (PublicKey, Vec<u8>, Vec<u8>) {
    let targets: serde_json::Value = serde_json::from_slice(&fixture("targets.json")).unwrap();
    let id = "68243a1f948be7841403f65fc8f24d5eda9050c337e727e2eacc3d3cb5227d73";
    let key: PublicKey =
        serde_json::from_value(targets["signed"]["delegations"]["keys"][id].clone()).unwrap();
    let releases: serde_json::Value =
        serde_json::from_slice(&fixture("targets/releases.json")).unwrap();
    let msg = crate::tuf::cjson::to_canonical(&releases["signed"]).unwrap();
    let sig = releases["signatures"][0]["sig"].as_str().unwrap();
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig)
        .unwrap();
    assert_eq!(releases["signatures"][0]["method"], "rsapss");
    (key, msg, sig)
}

#[test]
fn ecdsa_vector_verifies() {
    let sig = hex::decode(ECDSA_SIG_HEX).unwrap();
    verify_signature(&base_ecdsa_x509_key(), METHOD_ECDSA, ECDSA_MSG, &sig).unwrap();
    let err = verify_signature(
        &base_ecdsa_x509_key(),
        METHOD_ECDSA,
        b"test data for signinG",
        &sig,
    )
    .unwrap_err();
    assert!(matches!(err, CryptoError::BadSignature(_)), "{err}");
}

#[test]
fn ecdsa_plain_key_of_the_certificate_verifies_with_the_same_fingerprint() {
    let x509_key = base_ecdsa_x509_key();
    let spki = x509::key_certificate(&x509_key.public).unwrap().spki_der;
    let plain = PublicKey::new(ECDSA, spki);
    let sig = hex::decode(ECDSA_SIG_HEX).unwrap();
    verify_signature(&plain, METHOD_ECDSA, ECDSA_MSG, &sig).unwrap();
    let a = VerifyingKey::from_public_key(&plain).unwrap().fingerprint();
    let b = VerifyingKey::from_public_key(&x509_key)
        .unwrap()
        .fingerprint();
    assert_eq!(a, b);
    assert_ne!(
        a,
        VerifyingKey::from_public_key(&ed25519_key())
            .unwrap()
            .fingerprint()
    );
}

#[test]
fn ecdsa_requires_raw_64_byte_signatures() {
    let raw = hex::decode(ECDSA_SIG_HEX).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    let der = sig.to_der();
    let err = verify_signature(
        &base_ecdsa_x509_key(),
        METHOD_ECDSA,
        ECDSA_MSG,
        der.as_bytes(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("expected 64"), "{err}");
    let zeros = [0u8; 64];
    let err =
        verify_signature(&base_ecdsa_x509_key(), METHOD_ECDSA, ECDSA_MSG, &zeros).unwrap_err();
    assert!(matches!(err, CryptoError::BadSignature(_)), "{err}");
}

#[test]
fn eddsa_vector_verifies() {
    let sig = hex::decode(ED25519_SIG_HEX).unwrap();
    verify_signature(&ed25519_key(), METHOD_EDDSA, ED25519_MSG, &sig).unwrap();
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert!(verify_signature(&ed25519_key(), METHOD_EDDSA, ED25519_MSG, &bad).is_err());
    let short = PublicKey::new(ED25519, vec![0; 31]);
    let err = verify_signature(&short, METHOD_EDDSA, ED25519_MSG, &sig).unwrap_err();
    assert!(err.to_string().contains("31 bytes"), "{err}");
}

#[test]
fn rsapss_fixture_releases_verifies() {
    let (key, msg, sig) = releases_vector();
    assert_eq!(key.keytype, RSA_X509);
    verify_signature(&key, METHOD_RSAPSS, &msg, &sig).unwrap();
    let mut tampered = msg.clone();
    tampered[20] ^= 1;
    assert!(verify_signature(&key, METHOD_RSAPSS, &tampered, &sig).is_err());
    // The same signature is not a PKCS#1 v1.5 signature.
    assert!(verify_signature(&key, METHOD_RSAPKCS1V15, &msg, &sig).is_err());
}

#[test]
fn rsa_plain_key_and_pkcs1v15() {
    let (x509_key, msg, pss_sig) = releases_vector();
    let spki = x509::key_certificate(&x509_key.public).unwrap().spki_der;
    let plain = PublicKey::new(RSA, spki.clone());
    verify_signature(&plain, METHOD_RSAPSS, &msg, &pss_sig).unwrap();
    let sig = hex::decode(RSA_PKCS1V15_SIG_HEX).unwrap();
    verify_signature(&plain, METHOD_RSAPKCS1V15, ECDSA_MSG, &sig).unwrap();
    verify_signature(&x509_key, METHOD_RSAPKCS1V15, ECDSA_MSG, &sig).unwrap();
    assert!(verify_signature(&plain, METHOD_RSAPKCS1V15, b"other", &sig).is_err());
    assert_eq!(
        VerifyingKey::from_public_key(&plain).unwrap().fingerprint(),
        VerifyingKey::from_public_key(&x509_key)
            .unwrap()
            .fingerprint()
    );
    // A legacy `rsa` key holding PEM text verifies only the PyCrypto method.
    let pem_key = PublicKey::new(RSA, x509::to_pem("PUBLIC KEY", &spki).into_bytes());
    verify_signature(&pem_key, METHOD_PYCRYPTO_PSS, &msg, &pss_sig).unwrap();
    assert!(matches!(
        verify_signature(&pem_key, METHOD_RSAPSS, &msg, &pss_sig),
        Err(CryptoError::MethodMismatch { .. })
    ));
    assert!(matches!(
        verify_signature(&plain, METHOD_PYCRYPTO_PSS, &msg, &pss_sig),
        Err(CryptoError::MethodMismatch { .. })
    ));
}

#[test]
fn method_must_suit_the_key_type() {
    let ecdsa_sig = hex::decode(ECDSA_SIG_HEX).unwrap();
    let ed_sig = hex::decode(ED25519_SIG_HEX).unwrap();
    let (rsa_key, msg, pss_sig) = releases_vector();
    let cases: [(&PublicKey, &str, &[u8], &[u8]); 5] = [
        (&base_ecdsa_x509_key(), METHOD_EDDSA, ECDSA_MSG, &ecdsa_sig),
        (&base_ecdsa_x509_key(), METHOD_RSAPSS, ECDSA_MSG, &ecdsa_sig),
        (&ed25519_key(), METHOD_ECDSA, ED25519_MSG, &ed_sig),
        (&rsa_key, METHOD_ECDSA, &msg, &pss_sig),
        (&rsa_key, METHOD_EDDSA, &msg, &pss_sig),
    ];
    for (key, method, msg, sig) in cases {
        let err = verify_signature(key, method, msg, sig).unwrap_err();
        assert!(
            matches!(&err, CryptoError::MethodMismatch { method: m, keytype } if m == method && *keytype == key.keytype),
            "{} with {method}: {err}",
            key.keytype
        );
    }
    // Method names are exact here (the envelope parser lower-cases them).
    assert!(verify_signature(&ed25519_key(), "EDDSA", ED25519_MSG, &ed_sig).is_err());
}

#[test]
fn key_type_decides_how_bytes_are_read() {
    // An ed25519 key's 32 bytes labelled `ecdsa` are not an SPKI.
    let confused = PublicKey::new(ECDSA, hex::decode(ED25519_KEY_HEX).unwrap());
    assert!(matches!(
        VerifyingKey::from_public_key(&confused),
        Err(CryptoError::InvalidKey(_))
    ));
    // An RSA SPKI labelled `ecdsa` is refused, not read as RSA.
    let (rsa_key, _, _) = releases_vector();
    let spki = x509::key_certificate(&rsa_key.public).unwrap().spki_der;
    let err = VerifyingKey::from_public_key(&PublicKey::new(ECDSA, spki)).unwrap_err();
    assert!(
        err.to_string().contains("expected an EC public key"),
        "{err}"
    );
    // An RSA certificate labelled `ecdsa-x509` likewise.
    let mislabelled = PublicKey::new(crate::tuf::keys::ECDSA_X509, rsa_key.public.clone());
    assert!(VerifyingKey::from_public_key(&mislabelled).is_err());
    let unknown = PublicKey::new("dsa", vec![1, 2, 3]);
    assert!(matches!(
        VerifyingKey::from_public_key(&unknown),
        Err(CryptoError::Unsupported(_))
    ));
}

#[test]
fn compressed_ec_points_are_refused_like_go() {
    let x509_key = base_ecdsa_x509_key();
    let spki = x509::key_certificate(&x509_key.public).unwrap().spki_der;
    let vk = match VerifyingKey::from_public_key(&PublicKey::new(ECDSA, spki))
        .unwrap()
        .inner
    {
        Inner::P256(k) => k,
        _ => unreachable!(),
    };
    use p256::pkcs8::EncodePublicKey as _;
    let uncompressed = vk.to_public_key_der().unwrap();
    let compressed_point = vk.to_encoded_point(true);
    // Rebuild the SPKI with the compressed point: the prefix is shorter by 32 bytes.
    let mut der = uncompressed.as_bytes().to_vec();
    let point_start = der.len() - 65;
    der.truncate(point_start);
    der.extend_from_slice(compressed_point.as_bytes());
    der[1] -= 32; // outer SEQUENCE length
    der[point_start - 2] -= 32; // BIT STRING length
    let err = VerifyingKey::from_public_key(&PublicKey::new(ECDSA, der)).unwrap_err();
    assert!(err.to_string().contains("uncompressed"), "{err}");
}
