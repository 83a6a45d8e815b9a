//! Tests of `crypto::private`: ECDSA keys made, loaded and used with ring.

use super::pkcs8::{tlv, Pkcs8Flavor};
use super::*;
use crate::crypto::verify::VerifyingKey;

/// The RFC 6979 P-256 test key (private scalar) and its public point.
const SCALAR_HEX: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
const POINT_HEX: &str = "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb67903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
/// n - 1 of P-256 (the largest valid scalar).
const N_MINUS_1_HEX: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550";

fn p256_key(scalar: &[u8]) -> p256::ecdsa::SigningKey {
    p256::ecdsa::SigningKey::from_slice(scalar).unwrap()
}

fn point_of(key: &p256::ecdsa::SigningKey, compress: bool) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    key.verifying_key()
        .as_affine()
        .to_encoded_point(compress)
        .as_bytes()
        .to_vec()
}

fn invalid_key_message(r: Result<PrivateKey, CryptoError>) -> String {
    match r {
        Err(CryptoError::InvalidKey(m)) => m,
        other => panic!("expected InvalidKey, got {other:?}"),
    }
}

/// A SEC1 `ECPrivateKey` with the given scalar and optional public point.
fn sec1_der(scalar: &[u8], point: Option<&[u8]>) -> Vec<u8> {
    use der::Encode as _;
    sec1::EcPrivateKey {
        private_key: scalar,
        parameters: Some(sec1::EcParameters::NamedCurve(pkcs8::OID_P256)),
        public_key: point,
    }
    .to_der()
    .unwrap()
}

/// A PKCS#8 v1 (or v2 with `[1] publicKey`) `PrivateKeyInfo` around a SEC1 key.
fn pkcs8_der(sec1: &[u8], outer_point: Option<&[u8]>) -> Vec<u8> {
    let alg = hex::decode("301306072a8648ce3d020106082a8648ce3d030107").unwrap();
    let version: &[u8] = if outer_point.is_some() {
        &[2, 1, 1]
    } else {
        &[2, 1, 0]
    };
    let mut body = [version, &alg, &tlv(0x04, sec1)].concat();
    if let Some(p) = outer_point {
        body.extend(tlv(0x81, &[&[0u8][..], p].concat()));
    }
    tlv(0x30, &body)
}

#[test]
fn generated_ecdsa_key_signs_and_verifies() {
    let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    assert_eq!(key.algorithm(), Algorithm::Ecdsa);
    let msg = b"{\"signed\":{}}";
    let sig = key.sign(msg).unwrap();
    assert_eq!(sig.len(), 64, "raw r || s");
    let verifier = VerifyingKey::from_public_key(&key.public_key()).unwrap();
    verifier.verify("ecdsa", msg, &sig).unwrap();
    assert!(verifier.verify("ecdsa", b"another message", &sig).is_err());
    // Another generated key does not verify it.
    let other = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    assert_ne!(other.key_id(), key.key_id());
    assert!(VerifyingKey::from_public_key(&other.public_key())
        .unwrap()
        .verify("ecdsa", msg, &sig)
        .is_err());

    // The public key is the one p256 computes from the scalar.
    let scalar = key.ecdsa_signing_key().unwrap().to_bytes().unwrap();
    let reference = p256_key(scalar.as_ref());
    use p256::pkcs8::EncodePublicKey as _;
    assert_eq!(
        key.public_key().public,
        reference
            .verifying_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
    );
    use p256::ecdsa::signature::Verifier as _;
    let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    reference.verifying_key().verify(msg, &sig).unwrap();

    // It survives both PKCS#8 flavours and SEC1.
    for flavor in [Pkcs8Flavor::Notary, Pkcs8Flavor::Standard] {
        let der = key.to_pkcs8_der(flavor).unwrap();
        let back = PrivateKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(back.key_id(), key.key_id());
        assert_eq!(*back.to_pkcs8_der(flavor).unwrap(), *der);
        let sig = back.sign(msg).unwrap();
        verifier.verify("ecdsa", msg, &sig).unwrap();
    }
}

#[test]
fn ecdsa_encodings_match_p256_and_go() {
    let scalar = hex::decode(SCALAR_HEX).unwrap();
    let point = hex::decode(POINT_HEX).unwrap();
    let reference = p256_key(&scalar);
    assert_eq!(point_of(&reference, false), point);

    let from_parts = EcdsaSigningKey::from_parts(&scalar, &point).unwrap();
    let from_scalar = EcdsaSigningKey::from_scalar(&scalar).unwrap();
    let from_p256 = EcdsaSigningKey::from_p256(&reference);
    for k in [&from_parts, &from_scalar, &from_p256] {
        assert_eq!(k.public_point()[..], point[..]);
        assert_eq!(k.to_bytes().unwrap()[..], scalar[..]);
    }
    use p256::pkcs8::EncodePublicKey as _;
    let spki = reference.verifying_key().to_public_key_der().unwrap();
    assert_eq!(from_parts.public_key_der(), spki.as_bytes());

    // SEC1 as Go's MarshalECPrivateKey (and p256) writes it.
    let key = PrivateKey::from_ecdsa_key(from_parts);
    let sec1 = PrivateKey::ecdsa_sec1_der(key.ecdsa_signing_key().unwrap()).unwrap();
    let go_sec1 =
        format!("30770201010420{SCALAR_HEX}a00a06082a8648ce3d030107a144034200{POINT_HEX}");
    assert_eq!(hex::encode(&*sec1), go_sec1);
    let parsed = p256::SecretKey::from_sec1_der(&sec1).unwrap();
    assert_eq!(parsed.to_bytes()[..], scalar[..]);
    assert_eq!(*sec1, sec1_der(&scalar, Some(&point)));
    // Notary's PKCS#8 (version 1) and the standard one (version 0) around it.
    let alg = hex::decode("301306072a8648ce3d020106082a8648ce3d030107").unwrap();
    assert_eq!(
        *key.to_pkcs8_der(Pkcs8Flavor::Notary).unwrap(),
        tlv(0x30, &[&[2, 1, 1][..], &alg, &tlv(0x04, &sec1)].concat())
    );
    assert_eq!(
        *key.to_pkcs8_der(Pkcs8Flavor::Standard).unwrap(),
        pkcs8_der(&sec1, None)
    );

    // Signatures: raw r || s for TUF, DER for certificates; both verify with p256.
    use p256::ecdsa::signature::Verifier as _;
    let k = key.ecdsa_signing_key().unwrap();
    let raw = k.sign_fixed(b"msg").unwrap();
    let raw = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    reference.verifying_key().verify(b"msg", &raw).unwrap();
    let asn1 = k.sign_asn1(b"msg").unwrap();
    let asn1 = p256::ecdsa::Signature::from_der(&asn1).unwrap();
    reference.verifying_key().verify(b"msg", &asn1).unwrap();
}

#[test]
fn ecdsa_key_with_a_wrong_public_point_is_refused() {
    let scalar = hex::decode(SCALAR_HEX).unwrap();
    let right = hex::decode(POINT_HEX).unwrap();
    let other = p256_key(&[7; 32]);
    let wrong = point_of(&other, false);
    let wrong_compressed = point_of(&other, true);
    const MISMATCH: &str = "the embedded public key does not match";

    // The point inside the SEC1 structure, in a PKCS#8 and on its own.
    for bad in [
        &wrong,
        &wrong_compressed,
        &right[..64].to_vec(),
        &vec![0x04; 65],
    ] {
        let sec1 = sec1_der(&scalar, Some(bad));
        let m = invalid_key_message(PrivateKey::from_pkcs8_der(&pkcs8_der(&sec1, None)));
        assert!(m.contains(MISMATCH), "{m}");
        let m = invalid_key_message(PrivateKey::from_sec1_der(&sec1));
        assert!(m.contains(MISMATCH), "{m}");
    }
    // A right SEC1 point and a wrong PKCS#8 v2 `[1] publicKey`, or a wrong one alone.
    let sec1 = sec1_der(&scalar, Some(&right));
    let m = invalid_key_message(PrivateKey::from_pkcs8_der(&pkcs8_der(&sec1, Some(&wrong))));
    assert!(m.contains(MISMATCH), "{m}");
    let bare = sec1_der(&scalar, None);
    let m = invalid_key_message(PrivateKey::from_pkcs8_der(&pkcs8_der(&bare, Some(&wrong))));
    assert!(m.contains(MISMATCH), "{m}");

    // The same files with the right point (uncompressed or compressed), or none, load.
    let compressed = point_of(&p256_key(&scalar), true);
    let want = PrivateKey::from_ecdsa_key(EcdsaSigningKey::from_scalar(&scalar).unwrap());
    for der in [
        pkcs8_der(&sec1, None),
        pkcs8_der(&sec1, Some(&right)),
        pkcs8_der(&sec1, Some(&compressed)),
        pkcs8_der(&bare, Some(&right)),
        pkcs8_der(&bare, None),
        pkcs8_der(&sec1_der(&scalar, Some(&compressed)), None),
    ] {
        let k = PrivateKey::from_pkcs8_der(&der).unwrap();
        assert_eq!(k.key_id(), want.key_id());
    }
    assert_eq!(
        PrivateKey::from_sec1_der(&bare).unwrap().key_id(),
        want.key_id()
    );
}

#[test]
fn ecdsa_scalars_are_range_checked_and_left_padded() {
    let out_of_range = "scalar is out of range";
    let n_minus_1 = hex::decode(N_MINUS_1_HEX).unwrap();
    let mut n = n_minus_1.clone();
    n[31] += 1;
    let mut n_plus_1 = n.clone();
    n_plus_1[31] += 1;
    for bad in [
        vec![0u8; 32],
        n.clone(),
        n_plus_1,
        vec![0xff; 32],
        vec![1u8; 23],
        vec![1u8; 33],
    ] {
        let m = invalid_key_message(PrivateKey::from_sec1_der(&sec1_der(&bad, None)));
        assert!(m.contains(out_of_range), "{m}");
        // The embedded point is not looked at for such a scalar.
        let m = invalid_key_message(PrivateKey::from_sec1_der(&sec1_der(
            &bad,
            Some(&hex::decode(POINT_HEX).unwrap()),
        )));
        assert!(m.contains(out_of_range), "{m}");
        // p256 refuses the same.
        assert!(p256::SecretKey::from_slice(&bad).is_err());
    }
    // n - 1 and 1 are keys; a short scalar is left-padded.
    for good in [n_minus_1, [vec![0u8; 31], vec![1]].concat()] {
        let point = point_of(&p256_key(&good), false);
        let k = PrivateKey::from_sec1_der(&sec1_der(&good, Some(&point))).unwrap();
        assert_eq!(k.ecdsa_signing_key().unwrap().public_point()[..], point[..]);
    }
    let mut padded = hex::decode(SCALAR_HEX).unwrap();
    padded[..8].fill(0);
    let point = point_of(&p256_key(&padded), false);
    let short = PrivateKey::from_sec1_der(&sec1_der(&padded[8..], Some(&point))).unwrap();
    assert_eq!(
        short.ecdsa_signing_key().unwrap().to_bytes().unwrap()[..],
        padded[..]
    );
    let m = invalid_key_message(PrivateKey::from_sec1_der(&sec1_der(&padded[9..], None)));
    assert!(m.contains(out_of_range), "{m}");
}

#[test]
fn ecdsa_keys_do_not_print_their_scalar() {
    let key = PrivateKey::generate(Algorithm::Ecdsa).unwrap();
    let ec = key.ecdsa_signing_key().unwrap();
    let scalar = hex::encode(ec.to_bytes().unwrap());
    let shown = format!("{key:?} {key:#?} {ec:?} {ec:#?}").to_lowercase();
    assert!(!shown.contains(&scalar), "{shown}");
    assert!(shown.contains(&hex::encode(ec.public_point())));
}
