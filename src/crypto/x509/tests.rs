//! Tests of `crypto::x509`: generated root certificates against Go-made references,
//! and the notary fixtures' certificates.

use super::*;
use crate::tuf::keys::PublicKey;
use time::macros::datetime;

/// The RFC 6979 P-256 test key (private scalar).
const SCALAR_HEX: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";

/// TBSCertificate DER made by notary 0.7's own code (Debian golang-github-docker-notary-dev,
/// Go 1.19): `utils.NewCertificate(gun, start, start.Add(notary.Year*10))` with the
/// serial replaced by a fixed one, then `x509.CreateCertificate` self-signed with the
/// key above. Vector 1: GUN `docker.com/notary0.3/tst` (PrintableString), start
/// 2026-07-01T12:34:56.789Z, serial 8a3f0c2e9b1d4e5f60718293a4b5c6d7 (needs a 0x00
/// sign byte). Vector 2: GUN `docker.io/library/my_app` (UTF8String because of `_`),
/// start 2045-01-02T03:04:05-05:00, serial 0102 (NotAfter in 2054: GeneralizedTime).
const GO_TBS_1: &str = "30820120a0030201020211008a3f0c2e9b1d4e5f60718293a4b5c6d7300a06082a8648ce3d04030230233121301f06035504031318646f636b65722e636f6d2f6e6f74617279302e332f747374301e170d3236303730313132333435365a170d3336303632383132333435365a30233121301f06035504031318646f636b65722e636f6d2f6e6f74617279302e332f7473743059301306072a8648ce3d020106082a8648ce3d0301070342000460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299a3353033300e0603551d0f0101ff0404030205a030130603551d25040c300a06082b06010505070303300c0603551d130101ff04023000";
const GO_TBS_2: &str = "30820113a00302010202020102300a06082a8648ce3d04030230233121301f06035504030c18646f636b65722e696f2f6c6962726172792f6d795f6170703020170d3435303130323038303430355a180f32303534313233313038303430355a30233121301f06035504030c18646f636b65722e696f2f6c6962726172792f6d795f6170703059301306072a8648ce3d020106082a8648ce3d0301070342000460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299a3353033300e0603551d0f0101ff0404030205a030130603551d25040c300a06082b06010505070303300c0603551d130101ff04023000";

const FIXTURES: &str = "testdata/notary-fixtures";

fn test_key() -> EcdsaSigningKey {
    EcdsaSigningKey::from_scalar(&hex::decode(SCALAR_HEX).unwrap()).unwrap()
}

/// The test key's public half, as `p256` computes it (an independent check).
fn test_verifying_key() -> p256::ecdsa::VerifyingKey {
    *p256::ecdsa::SigningKey::from_slice(&hex::decode(SCALAR_HEX).unwrap())
        .unwrap()
        .verifying_key()
}

fn tbs_hex(cert_der: &[u8]) -> String {
    let cert = Certificate::from_der(cert_der).unwrap();
    hex::encode(cert.tbs_certificate.to_der().unwrap())
}

fn fixture_root_cert(repo: &str, root_json: &str) -> PublicKey {
    let path = format!(
        "{}/{FIXTURES}/{repo}/{root_json}",
        env!("CARGO_MANIFEST_DIR")
    );
    let root: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let id = root["signed"]["roles"]["root"]["keyids"][0]
        .as_str()
        .unwrap();
    serde_json::from_value(root["signed"]["keys"][id].clone()).unwrap()
}

fn notary03_root_key() -> PublicKey {
    fixture_root_cert(
        "notary0.3/tuf/docker.com/notary0.3/tst",
        "metadata/root.json",
    )
}

fn notary01_root_key() -> PublicKey {
    fixture_root_cert(
        "notary0.1/tuf/docker.com/notary0.1/samplerepo",
        "metadata/root.json",
    )
}

#[test]
fn generated_tbs_is_byte_identical_to_notary() {
    let der = build_root_certificate(
        &test_key(),
        "docker.com/notary0.3/tst",
        datetime!(2026-07-01 12:34:56.789 UTC),
        &hex::decode("8a3f0c2e9b1d4e5f60718293a4b5c6d7").unwrap(),
    )
    .unwrap();
    assert_eq!(tbs_hex(&der), GO_TBS_1);

    let der = build_root_certificate(
        &test_key(),
        "docker.io/library/my_app",
        datetime!(2045-01-02 03:04:05 -05:00),
        &[1, 2],
    )
    .unwrap();
    assert_eq!(tbs_hex(&der), GO_TBS_2);
}

#[test]
fn generated_certificate_parses_back() {
    let key = test_key();
    let now = datetime!(2026-07-01 12:34:56.789 UTC);
    let pem_text = root_certificate(&key, "example.com/team/app", now).unwrap();
    let info = validate_root_cert(pem_text.as_bytes(), "example.com/team/app", now, true).unwrap();
    assert_eq!(info.common_name, "example.com/team/app");
    assert_eq!(info.not_before, datetime!(2026-07-01 12:34:56 UTC));
    assert_eq!(
        info.not_after,
        datetime!(2026-07-01 12:34:56 UTC) + Duration::days(3650)
    );
    assert!(!info.is_ca);
    assert_eq!(info.key_algorithm, CertKeyAlgorithm::Ecdsa);
    assert!(!info.sha1_signature);
    assert_eq!(info.rsa_bits, None);
    use p256::pkcs8::EncodePublicKey as _;
    assert_eq!(
        info.spki_der,
        test_verifying_key().to_public_key_der().unwrap().as_bytes()
    );
    assert_eq!(info.spki_der, key.public_key_der());

    // Self-signed: the signature verifies with the key over the TBS bytes.
    let cert = Certificate::from_der(&info.der).unwrap();
    assert_eq!(cert.tbs_certificate.issuer, cert.tbs_certificate.subject);
    let sig = p256::ecdsa::Signature::from_der(cert.signature.raw_bytes()).unwrap();
    use p256::ecdsa::signature::Verifier as _;
    test_verifying_key()
        .verify(&cert.tbs_certificate.to_der().unwrap(), &sig)
        .unwrap();
    let serial = cert.tbs_certificate.serial_number.as_bytes();
    assert!(
        serial.len() <= 17 && (serial.len() < 17 || serial[0] == 0),
        "{serial:?}"
    );
}

#[test]
fn generated_pem_is_go_style_and_serials_are_random() {
    let now = datetime!(2026-07-01 00:00:00 UTC);
    let a = root_certificate(&test_key(), "g", now).unwrap();
    let b = root_certificate(&test_key(), "g", now).unwrap();
    assert_ne!(a, b, "two certificates share a serial");
    assert!(a.starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(a.ends_with("\n-----END CERTIFICATE-----\n"));
    let body: Vec<&str> = a
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("-----"))
        .collect();
    assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
    assert!(!body.last().unwrap().is_empty() && body.last().unwrap().len() <= 64);
    assert!(!a.contains('\r'));
    assert!(root_certificate(&test_key(), "", now).is_err());
}

#[test]
fn to_pem_wraps_at_64() {
    assert_eq!(to_pem("X", &[]), "-----BEGIN X-----\n-----END X-----\n");
    let p = to_pem("CERTIFICATE", &[0u8; 48]);
    assert_eq!(
        p,
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            "A".repeat(64)
        )
    );
}

#[test]
fn notary03_root_cert_and_its_expiry() {
    let key = notary03_root_key();
    let gun = "docker.com/notary0.3/tst";
    let info = key_certificate(&key.public).unwrap();
    assert_eq!(info.common_name, gun);
    assert_eq!(info.not_after, datetime!(2026-07-25 22:56:32 UTC));
    assert_eq!(info.key_algorithm, CertKeyAlgorithm::Ecdsa);
    validate_root_cert(&key.public, gun, datetime!(2026-07-01 00:00:00 UTC), true).unwrap();
    let err =
        validate_root_cert(&key.public, gun, datetime!(2026-08-01 00:00:00 UTC), true).unwrap_err();
    assert!(
        matches!(err, CryptoError::CertificateExpired { ref cn, .. } if cn == gun),
        "{err}"
    );
    // Previously trusted roots are used without the expiry check.
    validate_root_cert(&key.public, gun, datetime!(2026-08-01 00:00:00 UTC), false).unwrap();
    // Not yet valid: more than a day before NotBefore.
    let before = info.not_before - Duration::days(2);
    assert!(validate_root_cert(&key.public, gun, before, true).is_err());
    validate_root_cert(
        &key.public,
        gun,
        info.not_before - Duration::hours(23),
        true,
    )
    .unwrap();
}

#[test]
fn notary01_root_cert_matches_its_gun_only() {
    let key = notary01_root_key();
    let gun = "docker.com/notary0.1/samplerepo";
    let now = datetime!(2026-07-01 00:00:00 UTC);
    let info = validate_root_cert(&key.public, gun, now, true).unwrap();
    assert_eq!(info.common_name, gun);
    assert_eq!(info.not_after.year(), 2116);
    let err = validate_root_cert(&key.public, "docker.com/notary0.1/other", now, true).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    // The trusted_certificates copy is the same certificate.
    let crt = format!(
        "{}/{FIXTURES}/notary0.1/trusted_certificates/docker.com/notary0.1/samplerepo/4ff57dc987163053a12c066f2dd36b1ae6037a92f5416d381fe311a3db1868d8.crt",
        env!("CARGO_MANIFEST_DIR")
    );
    let crt_info = key_certificate(&std::fs::read(crt).unwrap()).unwrap();
    assert_eq!(crt_info.der, info.der);
}

#[test]
fn rsa_delegation_cert_of_notary03() {
    let path = format!(
        "{}/{FIXTURES}/notary0.3/tuf/docker.com/notary0.3/tst/metadata/targets.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let t: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let key: PublicKey = serde_json::from_value(
        t["signed"]["delegations"]["keys"]
            ["68243a1f948be7841403f65fc8f24d5eda9050c337e727e2eacc3d3cb5227d73"]
            .clone(),
    )
    .unwrap();
    let info = key_certificate(&key.public).unwrap();
    assert_eq!(info.common_name, "avaid96");
    assert_eq!(info.key_algorithm, CertKeyAlgorithm::Rsa);
    assert_eq!(info.rsa_bits, Some(2048));
    assert!(!info.sha1_signature && !info.is_ca);
    let now = datetime!(2026-07-01 00:00:00 UTC);
    validate_certificate(&info, now, false).unwrap();
    assert!(matches!(
        validate_certificate(&info, now, true),
        Err(CryptoError::CertificateExpired { .. })
    ));
}

#[test]
fn wildcard_common_names() {
    assert!(cn_matches_gun("docker.com/*", "docker.com/a/b"));
    assert!(cn_matches_gun("*", "anything"));
    assert!(!cn_matches_gun("docker.com/*", "docker.org/a"));
    assert!(cn_matches_gun("a/b", "a/b"));
    assert!(!cn_matches_gun("a/b", "a/b/c"));
    assert!(!cn_matches_gun("a/*/c", "a/x/c"));
}

#[test]
fn certificate_rules() {
    let base = key_certificate(&notary01_root_key().public).unwrap();
    let now = datetime!(2026-07-01 00:00:00 UTC);
    validate_certificate(&base, now, true).unwrap();

    let mut sha1 = base.clone();
    sha1.sha1_signature = true;
    let err = validate_certificate(&sha1, now, false).unwrap_err();
    assert!(err.to_string().contains("SHA-1"), "{err}");

    let mut small = base.clone();
    small.rsa_bits = Some(1024);
    let err = validate_certificate(&small, now, false).unwrap_err();
    assert!(err.to_string().contains("1024 bits"), "{err}");

    let mut window = base.clone();
    std::mem::swap(&mut window.not_before, &mut window.not_after);
    let err = validate_certificate(&window, now, false).unwrap_err();
    assert!(err.to_string().contains("validity window"), "{err}");
}

#[test]
fn a_root_key_is_exactly_one_plain_certificate() {
    let leaf = notary01_root_key().public;
    let now = datetime!(2026-07-01 00:00:00 UTC);
    let gun = "docker.com/notary0.1/samplerepo";
    validate_root_cert(&leaf, gun, now, true).unwrap();
    // Surrounding whitespace is fine.
    let mut spaced = b"\n  ".to_vec();
    spaced.extend_from_slice(&leaf);
    spaced.extend_from_slice(b"\n\n");
    key_certificate(&spaced).unwrap();
    // Two certificates (a chain, or a leaf and a forged CA carrying another key).
    let mut two = leaf.clone();
    two.extend_from_slice(&leaf);
    let err = validate_root_cert(&two, gun, now, true).unwrap_err();
    assert!(
        err.to_string().contains("exactly one PEM block, found 2"),
        "{err}"
    );
    assert!(key_certificate(&two).is_err());
    // A non-certificate block before or after.
    let mut mixed = leaf.clone();
    mixed.extend_from_slice(to_pem("PUBLIC KEY", &[1, 2, 3]).as_bytes());
    assert!(key_certificate(&mixed).is_err());
    let mut key_first = to_pem("PUBLIC KEY", &[1, 2, 3]).into_bytes();
    key_first.extend_from_slice(&leaf);
    assert!(key_certificate(&key_first).is_err());
    // A header line in the block.
    let text = String::from_utf8(leaf.clone()).unwrap();
    let with_header = text.replacen(
        "-----BEGIN CERTIFICATE-----\n",
        "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\n",
        1,
    );
    let err = key_certificate(with_header.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("header"), "{err}");
    // Text outside the block.
    let trailing = format!("{text}junk\n");
    let err = key_certificate(trailing.as_bytes()).unwrap_err();
    assert!(err.to_string().contains("outside"), "{err}");
    // Another block type alone.
    assert!(key_certificate(to_pem("PUBLIC KEY", &[1, 2, 3]).as_bytes()).is_err());
    // Nothing at all.
    assert!(validate_root_cert(b"", gun, now, true).is_err());
    assert!(validate_root_cert(b"garbage", gun, now, true).is_err());
}

#[test]
fn public_keys_from_pem_files() {
    let now = datetime!(2026-07-01 00:00:00 UTC);
    // A certificate becomes an x509 key, re-encoded as Go's PEM of that one certificate.
    let root = notary01_root_key();
    let key = public_key_from_pem(&root.public, now).unwrap();
    assert_eq!(key, root);
    // Expired certificates are refused (notary checks expiry when adding a delegation).
    let expired = notary03_root_key();
    assert!(matches!(
        public_key_from_pem(&expired.public, datetime!(2026-08-01 00:00 UTC)),
        Err(CryptoError::CertificateExpired { .. })
    ));
    // A PUBLIC KEY block becomes an `ecdsa` key of those DER bytes, with the canonical ID
    // of the certificate key.
    use p256::pkcs8::EncodePublicKey as _;
    let spki = test_verifying_key().to_public_key_der().unwrap();
    let pem_text = to_pem("PUBLIC KEY", spki.as_bytes());
    let plain = public_key_from_pem(pem_text.as_bytes(), now).unwrap();
    assert_eq!(plain.keytype, "ecdsa");
    assert_eq!(plain.public, spki.as_bytes());
    let cert = root_certificate(&test_key(), "g", now).unwrap();
    let cert_key = public_key_from_pem(cert.as_bytes(), now).unwrap();
    assert_eq!(cert_key.keytype, "ecdsa-x509");
    assert_eq!(cert_key.canonical_key_id().unwrap(), plain.key_id());

    let err = public_key_from_pem(to_pem("EC PRIVATE KEY", &[1]).as_bytes(), now).unwrap_err();
    assert!(err.to_string().contains("EC PRIVATE KEY"), "{err}");
    assert!(public_key_from_pem(b"nothing", now).is_err());
}
