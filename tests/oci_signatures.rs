//! OCI signatures from the repository's keys, against a real docker-registry (2.8, no
//! referrers API: the tag-schema fallback index is the path taken) with images pushed by
//! skopeo: cosign signatures checked by an independent implementation (the `sigstore`
//! crate, key-based, no transparency log), Notary Project JWS envelopes and certificates
//! checked with the openssl CLI, the fallback index after two signers, `verify --format`,
//! `migrate oci` on a repository published by the real notary CLI, `oci export-trust`.

mod support;

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use support::registry::{OciLayout, Registry};
use support::{fails, ok, Notary, NotaryServer};

fn v(trust: &Path) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.env_remove("VOUCH_USERNAME")
        .env_remove("VOUCH_PASSWORD")
        .env_remove("NOTARY_AUTH")
        .env("DOCKER_CONFIG", trust.join("no-docker-config"));
    c
}

/// A trust dir with `gun` initialized on its own static repository.
fn init_static(gun: &str) -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    ok(v(t.path()), &["init", gun]);
    t
}

/// `GET http://127.0.0.1:PORT/v2/<path>` body (the registry is open).
fn get(reg: &Registry, path: &str) -> Vec<u8> {
    let (status, body) = support::http_get(reg.port, &format!("/v2/{path}"));
    assert_eq!(
        status,
        200,
        "GET /v2/{path}: {}",
        String::from_utf8_lossy(&body)
    );
    body
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap()
}

fn openssl(args: &[&str]) -> std::process::Output {
    Command::new(support::require_binary("openssl"))
        .args(args)
        .output()
        .expect("run openssl")
}

/// Pushes a one-layer image as `demo/app:<tag>`; its manifest descriptor.
fn push_image(
    reg: &Registry,
    work: &Path,
    tag: &str,
    content: &str,
) -> support::registry::Descriptor {
    let mut l = OciLayout::new(&work.join(format!("oci-{tag}-{}", content.len())));
    let d = l.add_image(tag, content, "amd64");
    reg.push_oci(&l, tag, &format!("demo/app:{tag}"));
    d
}

/// cosign's verification by the `sigstore` crate: the image's `.sig` signatures checked
/// with the PEM public key `key`.
fn sigstore_verifies(image: &str, key: &[u8]) -> bool {
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    use sigstore::cosign::{ClientBuilder, CosignCapabilities};
    use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut client = ClientBuilder::default()
            .with_oci_client_config(ClientConfig {
                protocol: ClientProtocol::Http,
                ..Default::default()
            })
            .build()
            .unwrap();
        let reference: OciReference = image.parse().unwrap();
        let layers = client
            .trusted_signature_layers(&Auth::Anonymous, &reference)
            .await
            .unwrap();
        assert!(
            !layers.is_empty(),
            "sigstore found no signature layers for {image}"
        );
        let constraints: VerificationConstraintVec =
            vec![Box::new(PublicKeyVerifier::try_from(key).unwrap())];
        sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok()
    })
}

fn other_p256_pem(dir: &Path) -> Vec<u8> {
    let key = dir.join("other.key");
    let o = openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        key.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let o = openssl(&["ec", "-in", key.to_str().unwrap(), "-pubout"]);
    assert!(o.status.success());
    o.stdout
}

#[test]
fn cosign_signature_verifies_with_sigstore_and_not_with_another_key() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let image = push_image(&reg, work.path(), "1.0", "cosign content");
    let gun = reg.image("demo/app");
    let trust = init_static(&gun);
    let t = trust.path();
    let o = ok(v(t), &["sign", &format!("{gun}:1.0"), "--oci", "cosign"]);
    assert_eq!(o.stdout.trim(), format!("{gun}:1.0@{}", image.digest));
    assert!(
        o.stderr.contains("cosign signature published"),
        "{}",
        o.stderr
    );

    // The signature manifest under sha256-<hex>.sig: one simple-signing layer whose
    // payload names the image digest.
    let sig_tag = format!("sha256-{}.sig", image.hex());
    let m = json(&reg.inspect_raw(&format!("demo/app:{sig_tag}")));
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    let payload = get(
        &reg,
        &format!("demo/app/blobs/{}", layers[0]["digest"].as_str().unwrap()),
    );
    let p = json(&payload);
    assert_eq!(
        p["critical"]["image"]["docker-manifest-digest"],
        image.digest.as_str()
    );
    assert_eq!(p["critical"]["identity"]["docker-reference"], gun.as_str());
    assert_eq!(p["critical"]["type"], "cosign container image signature");

    // cosign.pub from the verified metadata: the targets key.
    let out = work.path().join("export");
    ok(
        v(t),
        &["oci", "export-trust", &gun, "--out", out.to_str().unwrap()],
    );
    let cosign_pub = std::fs::read(out.join("cosign.pub")).unwrap();
    let image_ref = format!("{gun}:1.0");
    assert!(
        sigstore_verifies(&image_ref, &cosign_pub),
        "sigstore rejected the signature"
    );
    let other = other_p256_pem(work.path());
    assert!(
        !sigstore_verifies(&image_ref, &other),
        "sigstore accepted another key"
    );

    // And openssl agrees on the DER signature over the payload bytes.
    let sig = base64::engine::general_purpose::STANDARD
        .decode(
            layers[0]["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    std::fs::write(work.path().join("payload"), &payload).unwrap();
    std::fs::write(work.path().join("sig.der"), &sig).unwrap();
    let w = |n: &str| work.path().join(n).to_str().unwrap().to_owned();
    let o = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &w("export/cosign.pub"),
        "-signature",
        &w("sig.der"),
        &w("payload"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
}

/// ASN.1 DER `ECDSA-Sig-Value` of a raw `r ‖ s` signature (written here, not by vouch).
fn raw_to_der(raw: &[u8]) -> Vec<u8> {
    assert_eq!(raw.len(), 64, "an ES256 signature is 64 bytes");
    let int = |b: &[u8]| {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        if v.first().is_none_or(|x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let mut body = int(&raw[..32]);
    body.extend(int(&raw[32..]));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// The notation signatures listed in the fallback index `sha256-<hex>` of `image`.
fn fallback_index(reg: &Registry, hex: &str) -> Vec<serde_json::Value> {
    let idx = json(&reg.inspect_raw(&format!("demo/app:sha256-{hex}")));
    assert_eq!(idx["mediaType"], "application/vnd.oci.image.index.v1+json");
    idx["manifests"].as_array().unwrap().clone()
}

/// The envelope bytes of the signature manifest `digest`, and the manifest.
fn envelope(reg: &Registry, digest: &str) -> (Vec<u8>, serde_json::Value) {
    let m = json(&reg.inspect_raw(&format!("demo/app@{digest}")));
    let layer = &m["layers"][0];
    assert_eq!(layer["mediaType"], "application/jose+json");
    let env = get(
        reg,
        &format!("demo/app/blobs/{}", layer["digest"].as_str().unwrap()),
    );
    (env, m)
}

#[test]
fn notation_jws_and_certificate_pass_independent_checks() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let w = |n: &str| work.path().join(n).to_str().unwrap().to_owned();
    let image = push_image(&reg, work.path(), "2.0", "notation content");
    let gun = reg.image("demo/app");
    let trust = init_static(&gun);
    let t = trust.path();
    let o = ok(v(t), &["sign", &format!("{gun}:2.0"), "--oci", "notation"]);
    assert!(
        o.stderr.contains("notation signature published"),
        "{}",
        o.stderr
    );

    // docker-registry 2.8 has no referrers API: the fallback index lists the signature.
    let listed = fallback_index(&reg, image.hex());
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        listed[0]["artifactType"],
        "application/vnd.cncf.notary.signature"
    );
    let sig_digest = listed[0]["digest"].as_str().unwrap();
    let (env, manifest) = envelope(&reg, sig_digest);
    assert_eq!(
        manifest["artifactType"],
        "application/vnd.cncf.notary.signature"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(manifest["subject"]["digest"], image.digest.as_str());
    assert_eq!(manifest["subject"]["size"], image.size);
    assert_eq!(manifest["subject"]["mediaType"], image.media_type.as_str());

    // The JWS, read by hand.
    let env = json(&env);
    let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let protected_b64 = env["protected"].as_str().unwrap();
    let payload_b64 = env["payload"].as_str().unwrap();
    let protected = json(&b64url.decode(protected_b64).unwrap());
    assert_eq!(protected["alg"], "ES256");
    assert_eq!(
        protected["cty"],
        "application/vnd.cncf.notary.payload.v1+json"
    );
    assert_eq!(protected["io.cncf.notary.signingScheme"], "notary.x509");
    assert_eq!(
        protected["crit"],
        serde_json::json!(["io.cncf.notary.signingScheme"])
    );
    assert!(protected["io.cncf.notary.signingTime"].is_string());
    let payload = json(&b64url.decode(payload_b64).unwrap());
    assert_eq!(payload["targetArtifact"]["digest"], image.digest.as_str());
    assert_eq!(payload["targetArtifact"]["size"], image.size);

    // The signature verifies with openssl under the leaf certificate's key.
    let x5c = env["header"]["x5c"].as_array().unwrap();
    assert_eq!(x5c.len(), 1);
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(x5c[0].as_str().unwrap())
        .unwrap();
    std::fs::write(w("leaf.der"), &leaf).unwrap();
    let o = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        &w("leaf.der"),
        "-out",
        &w("leaf.pem"),
    ]);
    assert!(o.status.success());
    let o = openssl(&["x509", "-in", &w("leaf.pem"), "-pubkey", "-noout"]);
    std::fs::write(w("leaf.pub"), &o.stdout).unwrap();
    std::fs::write(w("input"), format!("{protected_b64}.{payload_b64}")).unwrap();
    let sig = b64url.decode(env["signature"].as_str().unwrap()).unwrap();
    std::fs::write(w("sig.der"), raw_to_der(&sig)).unwrap();
    let o = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &w("leaf.pub"),
        "-signature",
        &w("sig.der"),
        &w("input"),
    ]);
    assert!(
        o.status.success(),
        "openssl: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    // A changed payload does not verify.
    std::fs::write(w("input2"), format!("{protected_b64}.{payload_b64}x")).unwrap();
    let o = openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        &w("leaf.pub"),
        "-signature",
        &w("sig.der"),
        &w("input2"),
    ]);
    assert!(!o.status.success());
    // The certificate's thumbprint annotation.
    assert_eq!(
        manifest["annotations"]["io.cncf.notary.x509chain.thumbprint#S256"],
        serde_json::to_string(&[support::registry::sha256_hex(&leaf)]).unwrap()
    );

    // notation's leaf rules, read by openssl: keyUsage critical digitalSignature only,
    // codeSigning, not a CA, P-256 with SHA-256, and the subject notation's trust policy
    // needs (C, ST, O).
    let text =
        String::from_utf8(openssl(&["x509", "-in", &w("leaf.pem"), "-noout", "-text"]).stdout)
            .unwrap();
    let after = |h: &str| {
        let i = text.find(h).unwrap_or_else(|| panic!("no {h} in {text}"));
        text[i..].lines().nth(1).unwrap().trim().to_owned()
    };
    assert!(text.contains("X509v3 Key Usage: critical"), "{text}");
    assert_eq!(after("X509v3 Key Usage"), "Digital Signature");
    assert_eq!(after("X509v3 Extended Key Usage"), "Code Signing");
    assert_eq!(after("X509v3 Basic Constraints"), "CA:FALSE");
    assert!(
        text.contains("Signature Algorithm: ecdsa-with-SHA256"),
        "{text}"
    );
    assert!(text.contains("ASN1 OID: prime256v1"), "{text}");
    assert!(
        text.contains(&format!("Subject: C = ZZ, ST = -, O = vouch, CN = {gun}")),
        "{text}"
    );
    let o = openssl(&[
        "verify",
        "-x509_strict",
        "-CAfile",
        &w("leaf.pem"),
        &w("leaf.pem"),
    ]);
    assert!(
        o.status.success(),
        "openssl verify: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );

    // The leaf's key is the repository's targets key, and export-trust writes what
    // notation needs: the same certificate in a trust store, and a policy for the scope.
    let out = work.path().join("export");
    ok(
        v(t),
        &["oci", "export-trust", &gun, "--out", out.to_str().unwrap()],
    );
    assert_eq!(
        std::fs::read(w("leaf.pub")).unwrap(),
        std::fs::read(out.join("cosign.pub")).unwrap()
    );
    let policy = json(&std::fs::read(out.join("trustpolicy.oci.json")).unwrap());
    let p = &policy["trustPolicies"][0];
    assert_eq!(policy["version"], "1.0");
    assert_eq!(p["registryScopes"], serde_json::json!([gun]));
    assert_eq!(p["signatureVerification"]["level"], "strict");
    assert_eq!(
        p["trustedIdentities"],
        serde_json::json!([format!("x509.subject: C=ZZ, ST=-, O=vouch, CN={gun}")])
    );
    let store = p["trustStores"][0]
        .as_str()
        .unwrap()
        .strip_prefix("ca:")
        .unwrap()
        .to_owned();
    let certs: Vec<_> = std::fs::read_dir(out.join("truststore/x509/ca").join(&store))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(certs.len(), 1);
    assert_eq!(
        std::fs::read(&certs[0]).unwrap(),
        std::fs::read(w("leaf.pem")).unwrap()
    );
}

#[test]
fn two_signers_both_in_the_fallback_index_and_the_sig_manifest_and_verify_format() {
    let reg = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let image = push_image(&reg, work.path(), "3.0", "two signers");
    let plain = push_image(&reg, work.path(), "plain", "notary only");
    let gun = reg.image("demo/app");
    // Two repositories for the same image name, each with its own keys (two trust dirs,
    // each with its own static repository).
    let a = init_static(&gun);
    let b = init_static(&gun);
    let tag = format!("{gun}:3.0");
    ok(v(a.path()), &["sign", &tag, "--oci", "cosign,notation"]);
    // Only b's own keys decide for b: nothing of b's is there yet.
    fails(v(b.path()), &["verify", &tag, "--format", "cosign"], 1);
    let o = fails(v(b.path()), &["verify", &tag, "--format", "notation"], 1);
    assert!(o.stderr.contains("not one of the keys"), "{}", o.stderr);
    ok(v(b.path()), &["sign", &tag, "--oci", "notation,cosign"]);

    // Both notation signatures are in the fallback index, a's first.
    let listed = fallback_index(&reg, image.hex());
    assert_eq!(listed.len(), 2, "{listed:?}");
    for d in &listed {
        assert_eq!(d["artifactType"], "application/vnd.cncf.notary.signature");
        let (_, m) = envelope(&reg, d["digest"].as_str().unwrap());
        assert_eq!(m["subject"]["digest"], image.digest.as_str());
    }
    assert_ne!(listed[0]["digest"], listed[1]["digest"]);
    // Both cosign signatures are layers of the one .sig manifest.
    let sig = json(&reg.inspect_raw(&format!("demo/app:sha256-{}.sig", image.hex())));
    assert_eq!(sig["layers"].as_array().unwrap().len(), 2);

    // Each trust dir verifies with its own keys, in every format.
    for t in [a.path(), b.path()] {
        for f in ["cosign", "notation", "any", "notary"] {
            let o = ok(v(t), &["verify", &tag, "--format", f]);
            assert_eq!(o.stdout.trim(), format!("{gun}@{}", image.digest), "{f}");
        }
        let o = ok(
            v(t),
            &["--output", "json", "verify", &tag, "--format", "notation"],
        );
        let j = json(o.stdout.as_bytes());
        assert_eq!(j["format"], "notation");
        assert_eq!(j["role"], "targets");
        assert!(listed
            .iter()
            .any(|d| d["digest"] == j["signature_manifest"]));
    }

    // Signing again changes nothing: the signatures are there.
    let o = ok(v(a.path()), &["sign", &tag, "--oci", "cosign,notation"]);
    assert!(
        o.stderr.contains("cosign signature already there"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains("notation signature already there"),
        "{}",
        o.stderr
    );
    assert_eq!(fallback_index(&reg, image.hex()).len(), 2);
    let sig = json(&reg.inspect_raw(&format!("demo/app:sha256-{}.sig", image.hex())));
    assert_eq!(sig["layers"].as_array().unwrap().len(), 2);

    // Signed in Notary v1 only: cosign and notation say no (exit 1, the reason named),
    // any says yes through notary.
    ok(v(a.path()), &["sign", &format!("{gun}:plain")]);
    let plain_tag = format!("{gun}:plain");
    let o = fails(
        v(a.path()),
        &["verify", &plain_tag, "--format", "cosign"],
        1,
    );
    assert!(
        o.stderr.contains("no cosign signature verifies"),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr.contains(&format!("sha256-{}.sig", plain.hex())),
        "{}",
        o.stderr
    );
    fails(
        v(a.path()),
        &["verify", &plain_tag, "--format", "notation"],
        1,
    );
    let o = ok(v(a.path()), &["verify", &plain_tag, "--format", "any"]);
    assert_eq!(o.stdout.trim(), format!("{gun}@{}", plain.digest));
    // Not signed at all in b: any fails with each format's reason.
    let o = fails(v(b.path()), &["verify", &plain_tag, "--format", "any"], 1);
    for f in ["notary", "cosign", "notation"] {
        assert!(o.stderr.contains(&format!("{f}:")), "{f}: {}", o.stderr);
    }
}

#[test]
fn sign_uses_the_config_default_and_a_refused_push_names_the_artifact() {
    // Token auth: the CLI's credentials (VOUCH_USERNAME/VOUCH_PASSWORD) get a token for
    // repository:<name>:pull,push; a read-only user's push is refused.
    let tokens = support::token::TokenServer::start(&[
        ("alice", "pw-alice", false),
        ("reader", "pw-reader", true),
    ]);
    let mut reg = Registry::start_with(&support::registry::RegistryConfig::token_auth(&tokens));
    reg.creds = Some("alice:pw-alice".into());
    let work = tempfile::tempdir().unwrap();
    let image = push_image(&reg, work.path(), "4.0", "config default");
    let gun = reg.image("demo/app");
    let trust = tempfile::tempdir().unwrap();
    let t = trust.path();
    std::fs::write(
        t.join("config.json"),
        r#"{"oci_signatures": ["cosign", "notation"]}"#,
    )
    .unwrap();
    let as_user = |t: &Path, user: &str, pass: &str| {
        let mut c = v(t);
        c.env("VOUCH_USERNAME", user).env("VOUCH_PASSWORD", pass);
        c
    };
    ok(as_user(t, "alice", "pw-alice"), &["init", &gun]);
    tokens.clear();
    let o = ok(
        as_user(t, "alice", "pw-alice"),
        &["--output", "json", "sign", &format!("{gun}:4.0")],
    );
    let j = json(o.stdout.as_bytes());
    assert_eq!(j["items"][0]["oci"]["cosign"]["status"], "pushed");
    assert_eq!(j["items"][0]["oci"]["notation"]["status"], "pushed");
    assert!(
        tokens
            .requests()
            .iter()
            .any(|r| r.scopes == ["repository:demo/app:pull,push"]
                && r.account.as_deref() == Some("alice")),
        "{:?}",
        tokens.requests()
    );
    ok(
        as_user(t, "alice", "pw-alice"),
        &["verify", &format!("{gun}:4.0"), "--format", "cosign"],
    );
    ok(
        as_user(t, "alice", "pw-alice"),
        &["verify", &format!("{gun}:4.0"), "--format", "notation"],
    );
    let (d, _) = reg.served("demo/app:4.0");
    assert_eq!(d, image.digest);

    // --oci none overrides the config file; a bad name is a usage error.
    ok(
        as_user(t, "alice", "pw-alice"),
        &["sign", &format!("{gun}:4.0"), "--oci", "none"],
    );
    fails(
        as_user(t, "alice", "pw-alice"),
        &["sign", &format!("{gun}:4.0"), "--oci", "gpg"],
        2,
    );

    // A read-only user may read the image but not push its signature: exit 3, the
    // artifact named, nothing tagged.
    let other = push_image(&reg, work.path(), "5.0", "refused push");
    let o = fails(
        as_user(t, "reader", "pw-reader"),
        &["sign", &format!("{gun}:5.0"), "--oci", "cosign"],
        3,
    );
    assert!(
        o.stderr.contains(&format!(
            "refused to store the cosign signature of {gun}@{}",
            other.digest
        )),
        "{}",
        o.stderr
    );
    assert!(
        o.stderr
            .contains("the Notary v1 signature is published, the OCI signatures are not"),
        "{}",
        o.stderr
    );
    // The Notary v1 signature is there all the same.
    let o = ok(
        as_user(t, "reader", "pw-reader"),
        &["verify", &format!("{gun}:5.0")],
    );
    assert_eq!(o.stdout.trim(), format!("{gun}@{}", other.digest));
    let mut args = vec![
        "inspect".to_owned(),
        "--raw".into(),
        "--tls-verify=false".into(),
        "--creds".into(),
        "alice:pw-alice".into(),
    ];
    args.push(format!(
        "docker://{}/demo/app:sha256-{}.sig",
        reg.host,
        other.hex()
    ));
    let out = Command::new(support::require_binary("skopeo"))
        .args(&args)
        .env("HOME", work.path())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a .sig tag exists for the refused push"
    );
}

#[test]
fn migrate_oci_publishes_every_served_tag_of_a_notary_published_repository() {
    let reg = Registry::start();
    let server = NotaryServer::start();
    let work = tempfile::tempdir().unwrap();
    let gun = reg.image("demo/app");
    // Five tags published by the real notary CLI, as docker trust does: each target is
    // the manifest's bytes (sha256 and length of what the registry serves).
    let notary_dir = work.path().join("notary");
    let notary = Notary::with_server(&notary_dir, &server);
    notary.run(&["init", "-p", &gun]);
    let mut images = Vec::new();
    for i in 1..=5 {
        let tag = format!("v{i}");
        let d = push_image(&reg, work.path(), &tag, &format!("release {i}"));
        let f = work.path().join(format!("{tag}.json"));
        std::fs::write(&f, &d.bytes).unwrap();
        notary.run(&["add", "-p", &gun, &tag, f.to_str().unwrap()]);
        images.push((tag, d));
    }
    // v5 moved in the registry since it was signed.
    let moved = push_image(&reg, work.path(), "v5", "release 5, rebuilt");
    assert_ne!(moved.digest, images[4].1.digest);
    assert_eq!(reg.served("demo/app:v5").0, moved.digest);

    // vouch works in notary's trust dir, with notary's keys.
    let vn = || {
        let mut c = v(&notary_dir);
        c.args(["--server", &server.url, "--tofu"]);
        c
    };
    let o = ok(vn(), &["migrate", "oci", &gun, "--dry-run"]);
    let rows: Vec<&str> = o.stdout.lines().skip(2).collect();
    assert_eq!(rows.len(), 5, "{}", o.stdout);
    for (i, (tag, d)) in images.iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("{tag} ")))
            .unwrap();
        assert!(row.contains(&d.digest), "{row}");
        if i < 4 {
            assert_eq!(row.matches("would publish").count(), 2, "{row}");
        } else {
            assert!(
                row.contains(&format!(
                    "skipped: the tag moved (the registry serves {})",
                    moved.digest
                )),
                "{row}"
            );
        }
    }
    assert!(o.stderr.contains("1 tag(s)"), "{}", o.stderr);
    // A dry run pushes nothing.
    let mut args = vec![
        "inspect".to_owned(),
        "--raw".into(),
        "--tls-verify=false".into(),
    ];
    args.push(format!(
        "docker://{}/demo/app:sha256-{}.sig",
        reg.host,
        images[0].1.hex()
    ));
    let out = Command::new(support::require_binary("skopeo"))
        .args(&args)
        .env("HOME", work.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a dry run pushed a signature");

    let o = ok(vn(), &["--output", "json", "migrate", "oci", &gun]);
    let j = json(o.stdout.as_bytes());
    assert_eq!(j["published"], true);
    assert_eq!(j["signatures_published"], 8);
    assert_eq!(j["tags_skipped"], 1);
    for (i, (tag, d)) in images.iter().enumerate() {
        let row = j["tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["tag"] == tag.as_str())
            .unwrap();
        let image = format!("{gun}:{tag}");
        if i < 4 {
            assert_eq!(row["formats"]["cosign"], "published", "{row}");
            assert_eq!(row["formats"]["notation"], "published", "{row}");
            for f in ["cosign", "notation"] {
                let o = ok(vn(), &["verify", &image, "--format", f]);
                assert_eq!(o.stdout.trim(), format!("{gun}@{}", d.digest));
            }
        } else {
            assert!(row["note"].as_str().unwrap().contains("moved"), "{row}");
            fails(vn(), &["verify", &image, "--format", "cosign"], 1);
            fails(vn(), &["verify", &image, "--format", "notation"], 1);
        }
    }
    // The cosign signatures verify independently with the exported targets key.
    let out = work.path().join("export");
    ok(
        vn(),
        &["oci", "export-trust", &gun, "--out", out.to_str().unwrap()],
    );
    let key = std::fs::read(out.join("cosign.pub")).unwrap();
    assert!(sigstore_verifies(&format!("{gun}:v1"), &key));

    // Idempotent: a second run publishes nothing.
    let o = ok(vn(), &["--output", "json", "migrate", "oci", &gun]);
    let j = json(o.stdout.as_bytes());
    assert_eq!(j["published"], false);
    assert_eq!(j["signatures_published"], 0);
    for row in j["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["tag"] != "v5")
    {
        assert_eq!(row["formats"]["cosign"], "exists", "{row}");
        assert_eq!(row["formats"]["notation"], "exists", "{row}");
    }
    assert_eq!(fallback_index(&reg, images[0].1.hex()).len(), 1);
}
