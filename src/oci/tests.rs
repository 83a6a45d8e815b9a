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
