//! A token key that wants the PIN for every signature (`CKA_ALWAYS_AUTHENTICATE`, as the
//! YubiKey PIV applet's signature slot 9c): vouch logs in for each signature
//! (`CKU_CONTEXT_SPECIFIC`) and signs with it; the real notary CLI reads what it signed.
//! Against the real SoftHSM2, notary-server and notary CLI. Its own test binary: the key
//! is made here with the PKCS#11 module loaded in this process, pointed at this test's
//! SoftHSM configuration.

#[path = "support/softhsm.rs"]
mod softhsm;
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use sha2::{Digest, Sha256};
use softhsm::SoftHsm;
use support::{fails, list_rows, ok, Notary, NotaryServer};
use vouch::crypto::pkcs11::{PinSource, Pkcs11Uri, TokenConfig, TokenError, Tokens};
use zeroize::Zeroizing;

/// DER of prime256v1.
const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn vouch(hsm: &SoftHsm, trust: &Path, server: &str) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    hsm.env(&mut c);
    c.args(["-s", server]);
    c
}

/// An ECDSA P-256 key pair on token `token` labelled `label`, its private key marked
/// `CKA_ALWAYS_AUTHENTICATE`.
fn generate_always_authenticate(hsm: &SoftHsm, token: &str, label: &str) {
    std::env::set_var("SOFTHSM2_CONF", &hsm.conf);
    let p = Pkcs11::new(softhsm::MODULE).unwrap();
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label() == token)
        .unwrap();
    let s = p.open_rw_session(slot).unwrap();
    s.login(
        UserType::User,
        Some(&AuthPin::from(softhsm::PIN.to_owned())),
    )
    .unwrap();
    let id = b"always-1".to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::EcParams(P256.to_vec()),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::AlwaysAuthenticate(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id),
    ];
    let (_, key) = s
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .unwrap();
    // The token does ask for the PIN again: a plain signature is refused.
    let plain = s.sign(&Mechanism::Ecdsa, key, &[7u8; 32]);
    assert!(plain.is_err(), "the token signed without a second login");
    s.logout().unwrap();
    drop(s);
    p.finalize().unwrap();
}

#[test]
fn a_key_that_wants_the_pin_for_every_signature_signs_targets() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let gun = "example.com/pkcs11/always";
    let hsm = SoftHsm::new();
    hsm.init_token("release");
    generate_always_authenticate(&hsm, "release", "signing-9c");
    let admin = tmp.path().join("admin");
    let srv = server.url.as_str();
    ok(vouch(&hsm, &admin, srv), &["init", gun]);

    // Register the token key as the targets key and make it the only one.
    let uri = "pkcs11:token=release;object=signing-9c";
    let id = ok(
        vouch(&hsm, &admin, srv),
        &[
            "key",
            "import-pkcs11",
            uri,
            "--role",
            "targets",
            "--gun",
            gun,
        ],
    )
    .stdout
    .trim()
    .to_owned();
    ok(
        vouch(&hsm, &admin, srv),
        &["key", "rotate", gun, "targets", "--key", &id],
    );
    let d = |s: &str| hex::encode(Sha256::digest(s.as_bytes()));
    ok(
        vouch(&hsm, &admin, srv),
        &[
            "sign",
            &format!("{gun}:v1=sha256:{}:11", d("v1")),
            &format!("{gun}:v2=sha256:{}:12", d("v2")),
        ],
    );
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    let rows = list_rows(&n.run(&["list", gun]));
    assert_eq!(
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        ["v1", "v2"]
    );
    assert_eq!(
        n.run(&["lookup", gun, "v2"]).trim(),
        format!("v2 sha256:{} 12", d("v2"))
    );

    // A wrong PIN: exit 4, nothing published.
    let mut c = vouch(&hsm, &admin, srv);
    c.env("VOUCH_PKCS11_PIN", "000000");
    let out = fails(c, &["sign", &format!("{gun}:v3=sha256:{}:13", d("v3"))], 4);
    assert!(out.stderr.contains("PIN"), "{}", out.stderr);
    assert_eq!(list_rows(&n.run(&["list", gun])).len(), 2);

    // The PIN is asked for again at each signature, and a wrong one there is a wrong PIN.
    let pins = Arc::new(Pins {
        given: vec![
            softhsm::PIN,
            softhsm::PIN,
            softhsm::PIN,
            "999999",
            softhsm::PIN,
        ],
        asked: Mutex::new(0),
    });
    let tokens = Tokens::new(TokenConfig {
        module: Some(softhsm::MODULE.into()),
        pin: pins.clone(),
    });
    let key = tokens
        .find_key(&Pkcs11Uri::parse(uri).unwrap(), None)
        .unwrap();
    assert_eq!(*pins.asked.lock().unwrap(), 1, "the session's login");
    key.sign_digest(&[1u8; 32]).unwrap();
    key.sign_digest(&[2u8; 32]).unwrap();
    assert_eq!(*pins.asked.lock().unwrap(), 3, "once more per signature");
    let e = key.sign_digest(&[3u8; 32]).unwrap_err().to_string();
    assert!(e.contains("wrong PIN for token \"release\""), "{e}");
    // The failed signature left nothing behind on the session: the next one signs.
    key.sign_digest(&[4u8; 32]).unwrap();
    assert_eq!(*pins.asked.lock().unwrap(), 5);
}

/// PINs given in turn, counted.
struct Pins {
    given: Vec<&'static str>,
    asked: Mutex<usize>,
}

impl PinSource for Pins {
    fn pin(&self, _token: &str, _uri: &str) -> Result<Zeroizing<String>, TokenError> {
        let mut n = self.asked.lock().unwrap();
        let pin = self.given[*n];
        *n += 1;
        Ok(Zeroizing::new(pin.to_owned()))
    }
}
