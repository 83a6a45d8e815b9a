//! Registries with the OCI 1.1 referrers API (Harbor 2.9+, distribution 3, zot…): the
//! Debian docker-registry here has none, so a small in-memory registry stands in for one.
//! It answers a manifest push with a `subject` with `OCI-Subject` and lists referrers at
//! `GET /v2/<name>/referrers/<digest>`; vouch then keeps no fallback index and finds the
//! notation signature through the API (its blobs downloaded from storage after a redirect,
//! as S3-backed registries serve them).

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use support::httpd::{HttpServer, Request, Response};
use support::registry::sha256_digest;
use support::{fails, ok};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[derive(Default)]
struct Store {
    blobs: BTreeMap<String, Vec<u8>>,
    /// Tag or digest → (media type, bytes).
    manifests: BTreeMap<String, (String, Vec<u8>)>,
    /// Every request: (method, path).
    log: Vec<(String, String)>,
}

fn serve(store: &Arc<Mutex<Store>>, req: &Request) -> Response {
    let mut s = store.lock().unwrap();
    s.log.push((req.method.clone(), req.path().to_owned()));
    let path = req.path().to_owned();
    if path == "/v2/" {
        return Response::json(200, "{}");
    }
    // Blob storage behind a redirect, as S3-backed registries serve downloads.
    if let Some(d) = path.strip_prefix("/storage/") {
        assert!(req.header("authorization").is_none());
        return match s.blobs.get(d) {
            Some(b) => Response::new(200, b.clone()),
            None => Response::new(404, ""),
        };
    }
    let Some(rest) = path.strip_prefix("/v2/demo/app/") else {
        return Response::json(404, r#"{"errors":[{"code":"NAME_UNKNOWN"}]}"#);
    };
    let head = req.method == "HEAD";
    let body_or_empty = |b: Vec<u8>| if head { Vec::new() } else { b };
    if let Some(d) = rest.strip_prefix("blobs/uploads/") {
        return match req.method.as_str() {
            "POST" => Response::new(202, "")
                .with_header("Location", "/v2/demo/app/blobs/uploads/u1?state=abc"),
            "PUT" if d == "u1" => {
                let q = req.query();
                assert!(q.iter().any(|(k, v)| k == "state" && v == "abc"), "{q:?}");
                let digest = q.iter().find(|(k, _)| k == "digest").unwrap().1.clone();
                assert_eq!(digest, sha256_digest(&req.body));
                s.blobs.insert(digest, req.body.clone());
                Response::new(201, "")
            }
            _ => Response::new(405, ""),
        };
    }
    if let Some(d) = rest.strip_prefix("blobs/") {
        if req.method == "GET" {
            return Response::new(307, "").with_header("Location", &format!("/storage/{d}"));
        }
        return match s.blobs.get(d) {
            Some(b) => Response::new(200, body_or_empty(b.clone())),
            None => Response::json(404, r#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#),
        };
    }
    if let Some(r) = rest.strip_prefix("manifests/") {
        if req.method == "PUT" {
            let bytes = req.body.clone();
            let digest = sha256_digest(&bytes);
            let mt = req.header("content-type").unwrap_or_default().to_owned();
            let v: Value = serde_json::from_slice(&bytes).unwrap();
            s.manifests
                .insert(r.to_owned(), (mt.clone(), bytes.clone()));
            s.manifests.insert(digest.clone(), (mt, bytes));
            let mut resp = Response::new(201, "").with_header("Docker-Content-Digest", &digest);
            if let Some(subject) = v.pointer("/subject/digest").and_then(Value::as_str) {
                resp = resp.with_header("OCI-Subject", subject);
            }
            return resp;
        }
        return match s.manifests.get(r) {
            Some((mt, b)) => Response::new(200, body_or_empty(b.clone()))
                .with_header("Content-Type", mt)
                .with_header("Docker-Content-Digest", &sha256_digest(b)),
            None => Response::json(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
        };
    }
    if let Some(d) = rest.strip_prefix("referrers/") {
        let mut list = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (mt, b) in s.manifests.values() {
            let v: Value = serde_json::from_slice(b).unwrap();
            if v.pointer("/subject/digest").and_then(Value::as_str) == Some(d)
                && seen.insert(sha256_digest(b))
            {
                list.push(
                    json!({"mediaType": mt, "digest": sha256_digest(b), "size": b.len(),
                    "artifactType": v["artifactType"], "annotations": v["annotations"]}),
                );
            }
        }
        // Something else that refers to the image, which vouch must pass over.
        list.push(json!({"mediaType": OCI_MANIFEST, "digest": format!("sha256:{}", "e".repeat(64)), "size": 10,
            "artifactType": "application/vnd.example.sbom"}));
        let body = serde_json::to_vec(
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": list}),
        )
        .unwrap();
        return Response::new(200, body).with_header("Content-Type", OCI_INDEX);
    }
    Response::new(404, "")
}

fn v(trust: &Path) -> assert_cmd::Command {
    let mut c = support::vouch(trust);
    c.env_remove("VOUCH_USERNAME")
        .env_remove("VOUCH_PASSWORD")
        .env("DOCKER_CONFIG", trust.join("no-docker-config"));
    c
}

#[test]
fn with_the_referrers_api_no_fallback_index_is_written_and_the_api_finds_the_signature() {
    let store = Arc::new(Mutex::new(Store::default()));
    let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
    let digest = sha256_digest(&image);
    store
        .lock()
        .unwrap()
        .manifests
        .insert("1.0".into(), (OCI_MANIFEST.into(), image.clone()));
    store
        .lock()
        .unwrap()
        .manifests
        .insert(digest.clone(), (OCI_MANIFEST.into(), image.clone()));
    let s2 = store.clone();
    let server = HttpServer::start(move |req| serve(&s2, req));
    let gun = format!("127.0.0.1:{}/demo/app", server.port);

    let trust = tempfile::tempdir().unwrap();
    let t = trust.path();
    ok(v(t), &["init", &gun]);
    ok(v(t), &["sign", &format!("{gun}:1.0"), "--oci", "notation"]);
    let fallback = format!("sha256-{}", digest.trim_start_matches("sha256:"));
    {
        let s = store.lock().unwrap();
        assert!(
            !s.manifests.contains_key(&fallback),
            "a fallback index was written"
        );
        assert!(
            !s.log
                .iter()
                .any(|(m, p)| m == "PUT" && p.ends_with(&fallback)),
            "{:?}",
            s.log
        );
    }
    let o = ok(
        v(t),
        &[
            "--output",
            "json",
            "verify",
            &format!("{gun}:1.0"),
            "--format",
            "notation",
        ],
    );
    let j: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["digest"], digest.as_str());
    {
        let s = store.lock().unwrap();
        assert!(s
            .log
            .iter()
            .any(|(m, p)| m == "GET" && p.ends_with(&format!("referrers/{digest}"))));
        assert!(
            !s.log
                .iter()
                .any(|(m, p)| m == "GET" && p.ends_with(&fallback)),
            "{:?}",
            s.log
        );
    }
    // Another trust dir with its own keys does not accept this signature.
    let other = tempfile::tempdir().unwrap();
    ok(v(other.path()), &["init", &gun]);
    fails(
        v(other.path()),
        &["verify", &format!("{gun}:1.0"), "--format", "notation"],
        1,
    );
}
