//! Tests of [`verify_chain_to_ca`] on certificates made with the `openssl` CLI: a CA, a
//! root certificate for a GUN issued by it (CN = GUN, KeyUsage critical digitalSignature +
//! keyEncipherment, BasicConstraints critical CA:FALSE, as protocol §5.4 describes), and
//! certificates that must not pass.

use std::path::PathBuf;
use std::process::Command;

use super::*;

const GUN: &str = "example.com/ca/app";
/// The root certificate extensions of protocol §5.4, without the codeSigning extended key
/// usage (which notary's CA check refuses, see `code_signing_leaf_is_refused_like_notary`).
const LEAF_EXT: &str =
    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
const CA_EXT: &str = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n";

struct Pki {
    dir: tempfile::TempDir,
    serial: std::cell::Cell<u32>,
}

impl Pki {
    fn new() -> Pki {
        Pki {
            dir: tempfile::tempdir().unwrap(),
            serial: std::cell::Cell::new(1000),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("the openssl CLI is needed for these tests");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A private key: "p256", "p384" or "rsa" (2048 bits).
    fn key(&self, name: &str, kind: &str) -> String {
        let file = format!("{name}.key");
        let opt = match kind {
            "p256" => "ec_paramgen_curve:P-256",
            "p384" => "ec_paramgen_curve:P-384",
            "rsa" => "rsa_keygen_bits:2048",
            _ => unreachable!(),
        };
        let alg = if kind == "rsa" { "RSA" } else { "EC" };
        self.openssl(&["genpkey", "-algorithm", alg, "-pkeyopt", opt, "-out", &file]);
        file
    }

    /// A certificate for `cn` with key `key`, signed by `issuer` ((cert, key) files) or
    /// self-signed, valid for `days`, with the extensions `ext` and digest `md`.
    #[allow(clippy::too_many_arguments)]
    fn cert(
        &self,
        name: &str,
        cn: &str,
        key: &str,
        issuer: Option<(&str, &str)>,
        days: u32,
        ext: &str,
        md: &str,
    ) -> String {
        let csr = format!("{name}.csr");
        let extfile = format!("{name}.ext");
        let pem = format!("{name}.pem");
        std::fs::write(self.path(&extfile), ext).unwrap();
        let subj = format!("/CN={}", cn.replace('/', "\\/"));
        self.openssl(&["req", "-new", "-key", key, "-subj", &subj, "-out", &csr]);
        let serial = self.serial.get() + 1;
        self.serial.set(serial);
        let serial = serial.to_string();
        let days = days.to_string();
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-days",
            &days,
            "-extfile",
            &extfile,
            md,
            "-set_serial",
            &serial,
            "-out",
            &pem,
        ];
        match issuer {
            Some((cert, ikey)) => args.extend(["-CA", cert, "-CAkey", ikey]),
            None => args.extend(["-signkey", key]),
        }
        self.openssl(&args);
        pem
    }

    /// A CA: self-signed, `CA_EXT` (plus `extra`), 30 days.
    fn ca(&self, name: &str, kind: &str, extra: &str) -> (String, String) {
        let key = self.key(name, kind);
        let md = if kind == "p384" { "-sha384" } else { "-sha256" };
        let cert = self.cert(
            name,
            &format!("Test CA {name}"),
            &key,
            None,
            30,
            &format!("{CA_EXT}{extra}"),
            md,
        );
        (cert, key)
    }

    /// The root certificate for `GUN`, issued by `issuer`.
    fn leaf(&self, name: &str, issuer: (&str, &str), ext: &str, md: &str) -> String {
        let key = self.key(name, "p256");
        self.cert(name, GUN, &key, Some(issuer), 90, ext, md)
    }

    fn info(&self, pem: &str) -> CertInfo {
        parse_pem_chain(&std::fs::read(self.path(pem)).unwrap())
            .unwrap()
            .remove(0)
    }
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn as_ref(p: &(String, String)) -> (&str, &str) {
    (p.0.as_str(), p.1.as_str())
}

#[test]
fn leaf_issued_by_the_ecdsa_ca_chains_to_it() {
    let pki = Pki::new();
    let ca = pki.ca("ca", "p256", "");
    let leaf = pki.leaf("root", as_ref(&ca), LEAF_EXT, "-sha256");
    let leaf_info = pki.info(&leaf);
    assert_eq!(leaf_info.common_name, GUN);
    assert!(!leaf_info.is_ca);
    let reached = verify_chain_to_ca(&leaf_info, &[], &[pki.info(&ca.0)], now()).unwrap();
    assert!(reached.contains("Test CA ca"), "{reached}");
    // And it is an acceptable root certificate for the GUN.
    validate_root_cert(&std::fs::read(pki.path(&leaf)).unwrap(), GUN, now(), true).unwrap();
}

#[test]
fn leaf_not_signed_by_the_ca_is_refused() {
    let pki = Pki::new();
    let ca = pki.ca("ca", "p256", "");
    // Another CA with the very same subject name: the issuer name matches, the signature
    // does not.
    let key = pki.key("impostor", "p256");
    let impostor_cert = pki.cert("impostor", "Test CA ca", &key, None, 30, CA_EXT, "-sha256");
    let forged = pki.leaf("forged", (&impostor_cert, &key), LEAF_EXT, "-sha256");
    let err = verify_chain_to_ca(&pki.info(&forged), &[], &[pki.info(&ca.0)], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");
    // A self-signed leaf (what `notary init` makes) does not chain either.
    let self_key = pki.key("selfsigned", "p256");
    let selfsigned = pki.cert("selfsigned", GUN, &self_key, None, 90, LEAF_EXT, "-sha256");
    let err = verify_chain_to_ca(&pki.info(&selfsigned), &[], &[pki.info(&ca.0)], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not one of the pinned CAs"), "{err}");
    // The impostor, were it pinned, accepts its own leaf but not the real CA's.
    let real = pki.leaf("real", as_ref(&ca), LEAF_EXT, "-sha256");
    verify_chain_to_ca(&pki.info(&forged), &[], &[pki.info(&impostor_cert)], now()).unwrap();
    assert!(verify_chain_to_ca(&pki.info(&real), &[], &[pki.info(&impostor_cert)], now()).is_err());
}

#[test]
fn rsa_pkcs1_sha256_and_p384_sha384_cas_are_verified() {
    let pki = Pki::new();
    let rsa = pki.ca("rsaca", "rsa", "");
    let leaf = pki.leaf("r1", as_ref(&rsa), LEAF_EXT, "-sha256");
    verify_chain_to_ca(&pki.info(&leaf), &[], &[pki.info(&rsa.0)], now()).unwrap();
    let p384 = pki.ca("p384ca", "p384", "");
    let leaf = pki.leaf("r2", as_ref(&p384), LEAF_EXT, "-sha384");
    verify_chain_to_ca(&pki.info(&leaf), &[], &[pki.info(&p384.0)], now()).unwrap();
    // The bundle may hold several CAs; the matching one is used.
    let cas = [pki.info(&rsa.0), pki.info(&p384.0)];
    verify_chain_to_ca(&pki.info(&leaf), &[], &cas, now()).unwrap();
}

#[test]
fn intermediate_from_the_key_bundle_completes_the_chain() {
    let pki = Pki::new();
    let ca = pki.ca("ca", "p256", "");
    let int_key = pki.key("int", "p256");
    let int = pki.cert(
        "int",
        "Intermediate",
        &int_key,
        Some(as_ref(&ca)),
        30,
        CA_EXT,
        "-sha256",
    );
    let leaf = pki.leaf("root", (&int, &int_key), LEAF_EXT, "-sha256");
    let cas = [pki.info(&ca.0)];
    verify_chain_to_ca(&pki.info(&leaf), &[pki.info(&int)], &cas, now()).unwrap();
    // Without the intermediate there is no path.
    assert!(verify_chain_to_ca(&pki.info(&leaf), &[], &cas, now()).is_err());
    // A CA with pathlen:0 allows no intermediate below it.
    let strict_ca = {
        let ext = "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign\n";
        let key = pki.key("strict0", "p256");
        (
            pki.cert("strict0", "Strict CA", &key, None, 30, ext, "-sha256"),
            key,
        )
    };
    let int2 = pki.cert(
        "int2",
        "Intermediate",
        &int_key,
        Some(as_ref(&strict_ca)),
        30,
        CA_EXT,
        "-sha256",
    );
    let err = verify_chain_to_ca(
        &pki.info(&leaf),
        &[pki.info(&int2)],
        &[pki.info(&strict_ca.0)],
        now(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("allows 0 intermediate"), "{err}");
}

#[test]
fn pinned_certificate_without_basic_constraints_ca_is_not_a_ca() {
    let pki = Pki::new();
    let key = pki.key("notca", "p256");
    let not_ca = pki.cert(
        "notca",
        "Not A CA",
        &key,
        None,
        30,
        "basicConstraints=critical,CA:FALSE\n",
        "-sha256",
    );
    let leaf = pki.leaf("root", (&not_ca, &key), LEAF_EXT, "-sha256");
    let err = verify_chain_to_ca(&pki.info(&leaf), &[], &[pki.info(&not_ca)], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a CA certificate"), "{err}");
}

#[test]
fn expired_ca_is_ignored() {
    let pki = Pki::new();
    // The CA is valid for 30 days, the leaf for 90: 45 days from now only the CA expired.
    let ca = pki.ca("ca", "p256", "");
    let leaf = pki.leaf("root", as_ref(&ca), LEAF_EXT, "-sha256");
    let later = now() + Duration::days(45);
    let err = verify_chain_to_ca(&pki.info(&leaf), &[], &[pki.info(&ca.0)], later)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not valid now"), "{err}");
}

#[test]
fn code_signing_leaf_is_refused_like_notary() {
    // notary 0.7 verifies with Go's default options (serverAuth): a leaf restricted to
    // codeSigning does not pass its CA pinning (checked against the notary CLI); one
    // allowing serverAuth does.
    let pki = Pki::new();
    let ca = pki.ca("ca", "p256", "");
    let code = pki.leaf(
        "code",
        as_ref(&ca),
        &format!("{LEAF_EXT}extendedKeyUsage=codeSigning\n"),
        "-sha256",
    );
    let err = verify_chain_to_ca(&pki.info(&code), &[], &[pki.info(&ca.0)], now())
        .unwrap_err()
        .to_string();
    assert!(err.contains("serverAuth"), "{err}");
    let server = pki.leaf(
        "server",
        as_ref(&ca),
        &format!("{LEAF_EXT}extendedKeyUsage=serverAuth,codeSigning\n"),
        "-sha256",
    );
    verify_chain_to_ca(&pki.info(&server), &[], &[pki.info(&ca.0)], now()).unwrap();
}
