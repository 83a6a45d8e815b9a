//! `vouch admission serve`: a running webhook, reached over real TLS, deciding real
//! workloads (made by `kubectl create … --dry-run=client -o json`, wrapped in
//! AdmissionReview v1 requests as the API server sends them) whose images were pushed
//! with skopeo to a real docker-registry and signed on a real notary-server. Its patches
//! are applied with the real `kubectl patch --local --type=json`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use support::registry::{OciLayout, Registry};
use support::tls::{make_tls_files, TlsFiles};
use support::{free_port, kubectl, ok, NotaryServer};

/// vouch with the test passphrases and no registry credentials from the environment
/// (`support::vouch` starts without them; HOME is the trust dir, which has no docker
/// config).
fn v(trust: &Path) -> assert_cmd::Command {
    support::vouch(trust)
}

/// `kubectl create KIND NAME --image=IMAGE [extra] --dry-run=client -o json`.
fn workload(kind: &str, name: &str, image: &str, extra: &[&str]) -> Value {
    let img = format!("--image={image}");
    let mut args = vec!["create", kind, name, &img];
    args.extend(extra);
    args.extend(["--dry-run=client", "-o", "json"]);
    serde_json::from_str(&kubectl(&args)).unwrap()
}

/// The object with the response's patch applied by `kubectl patch --local --type=json`.
fn apply_patch(dir: &Path, object: &Value, patch: &Value) -> Value {
    let file = dir.join(format!("obj-{}.json", rand_name()));
    std::fs::write(&file, object.to_string()).unwrap();
    let out = kubectl(&[
        "patch",
        "--local",
        "--type=json",
        "-f",
        file.to_str().unwrap(),
        "-p",
        &patch.to_string(),
        "-o",
        "json",
    ]);
    serde_json::from_str(&out).unwrap()
}

fn rand_name() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::SeqCst).to_string()
}

/// An AdmissionReview v1 request for `object`, as the API server sends it.
fn review(object: &Value, namespace: &str, sub_resource: &str) -> Value {
    let kind = object["kind"].as_str().unwrap().to_owned();
    let api = object["apiVersion"].as_str().unwrap();
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let resource = match kind.as_str() {
        "Pod" => "pods".to_owned(),
        k => format!("{}s", k.to_lowercase()),
    };
    let uid = format!("uid-{}", rand_name());
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": {"group": group, "version": version, "resource": resource},
            "subResource": sub_resource,
            "requestKind": {"group": group, "version": version, "kind": kind},
            "name": object["metadata"]["name"],
            "namespace": namespace,
            "operation": if sub_resource.is_empty() { "CREATE" } else { "UPDATE" },
            "userInfo": {"username": "system:admin", "groups": ["system:masters"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        }
    })
}

/// The images of an object, in kubectl's order.
fn images(object: &Value) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    if k == "image" {
                        if let Some(s) = c.as_str() {
                            out.push(s.to_owned());
                        }
                    } else {
                        walk(c, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    walk(object, &mut out);
    out
}

/// A running `vouch admission serve`, stopped by pid when dropped.
struct Webhook {
    child: Child,
    port: u16,
    log: PathBuf,
    client: reqwest::blocking::Client,
    _trust: tempfile::TempDir,
}

impl Webhook {
    fn start(policy: &Path, tls: &TlsFiles, server: &str) -> Webhook {
        Webhook::start_with(
            policy,
            tls,
            server,
            &["--deadline", "5", "--remote-timeout", "2"],
        )
    }

    fn start_with(policy: &Path, tls: &TlsFiles, server: &str, extra: &[&str]) -> Webhook {
        let trust = tempfile::tempdir().unwrap();
        let log = trust.path().join("webhook.log");
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(env!("CARGO_BIN_EXE_vouch"))
                .args([
                    "--trust-dir",
                    trust.path().to_str().unwrap(),
                    "--server",
                    server,
                ])
                .args(["admission", "serve", "--policy", policy.to_str().unwrap()])
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--tls-cert", tls.server_cert.to_str().unwrap()])
                .args(["--tls-key", tls.server_key.to_str().unwrap()])
                .args(["--reload-interval", "0.1"])
                .args(extra)
                .env_remove("VOUCH_TRUST_DIR")
                .env_remove("VOUCH_SERVER")
                .env_remove("VOUCH_TRUST_LOCK")
                .env_remove("DOCKER_CONTENT_TRUST_SERVER")
                .env("HOME", trust.path())
                .env("DOCKER_CONFIG", trust.path().join("no-docker-config"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start vouch admission serve");
            let mut w = Webhook {
                child,
                port,
                log: log.clone(),
                client: client_for(&tls.ca_cert),
                _trust: tempfile::tempdir().unwrap(),
            };
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = w.child.try_wait() {
                    break;
                }
                if w.get("/healthz").0 == 200 {
                    w._trust = trust;
                    return w;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "vouch admission serve did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    fn get(&self, path: &str) -> (u16, String) {
        match self.client.get(self.url(path)).send() {
            Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
            Err(_) => (0, String::new()),
        }
    }

    /// POST an AdmissionReview; the response object.
    fn send(&self, review: &Value) -> Value {
        let r = self
            .client
            .post(self.url("/mutate"))
            .header("content-type", "application/json")
            .body(review.to_string())
            .send()
            .expect("POST /mutate");
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
        assert_eq!(body["response"]["uid"], review["request"]["uid"]);
        body["response"].clone()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `done` every 50 ms until it holds; after 10 s the test fails with `what`
    /// and the webhook's log.
    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(Instant::now() < deadline, "{what}: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM by pid; the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id() as i32;
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("vouch admission serve did not stop on SIGTERM");
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_for(ca: &Path) -> reqwest::blocking::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::blocking::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .use_rustls_tls()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The decoded patch of an allowed response.
fn patch_of(resp: &Value) -> Value {
    assert_eq!(resp["allowed"], true, "{resp}");
    assert_eq!(resp["patchType"], "JSONPatch", "{resp}");
    let b64 = resp["patch"]
        .as_str()
        .expect("the patch is a base64 string");
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn denied_message(resp: &Value) -> String {
    assert_eq!(resp["allowed"], false, "{resp}");
    assert!(resp.get("patch").is_none() && resp.get("patchType").is_none());
    assert_eq!(resp["status"]["code"], 403);
    resp["status"]["message"].as_str().unwrap().to_owned()
}

/// Images pushed and signed; repositories pinned in a trust lock.
struct Scene {
    reg: Registry,
    server: Option<NotaryServer>,
    url: String,
    work: tempfile::TempDir,
    publisher: tempfile::TempDir,
    oci: OciLayout,
    lock: PathBuf,
    /// `HOST/demo/`.
    base: String,
    /// Signed digests of demo/app:1.0, demo/app:1.1.
    app10: String,
    app11: String,
}

impl Scene {
    fn new() -> Scene {
        let reg = Registry::start();
        let server = NotaryServer::start();
        let url = server.url.clone();
        let work = tempfile::tempdir().unwrap();
        let mut oci = OciLayout::new(&work.path().join("oci"));
        let app10 = oci.add_image("app10", "app 1.0", "amd64").digest;
        let app11 = oci.add_image("app11", "app 1.1", "amd64").digest;
        oci.add_image("unsigned", "not signed", "amd64");
        oci.add_image("moved", "moved here later", "amd64");
        reg.push_oci(&oci, "app10", "demo/app:1.0");
        reg.push_oci(&oci, "app11", "demo/app:1.1");
        reg.push_oci(&oci, "app10", "demo/app:moving");
        reg.push_oci(&oci, "unsigned", "demo/app:unsigned");
        for repo in ["strict", "warned", "lenient"] {
            reg.push_oci(&oci, "app10", &format!("demo/{repo}:1.0"));
            reg.push_oci(&oci, "unsigned", &format!("demo/{repo}:unsigned"));
        }
        let base = reg.image("demo/");
        let publisher = tempfile::tempdir().unwrap();
        let p = publisher.path();
        let lock = work.path().join("vouch-trust.json");
        let lock_s = lock.to_str().unwrap();
        for repo in ["app", "strict", "warned", "lenient"] {
            let gun = format!("{base}{repo}");
            ok(v(p), &["--server", &url, "init", &gun]);
            ok(
                v(p),
                &["trust", "pin", &gun, "--from-cache", "--trust-lock", lock_s],
            );
        }
        ok(
            v(p),
            &[
                "--server",
                &url,
                "sign",
                &format!("{base}app:1.0"),
                &format!("{base}app:1.1"),
                &format!("{base}app:moving"),
                &format!("{base}strict:1.0"),
                &format!("{base}warned:1.0"),
                &format!("{base}lenient:1.0"),
            ],
        );
        // The tag moves in the registry after it was signed.
        reg.push_oci(&oci, "moved", "demo/app:moving");
        Scene {
            reg,
            server: Some(server),
            url,
            work,
            publisher,
            oci,
            lock,
            base,
            app10,
            app11,
        }
    }

    fn img(&self, repo_tag: &str) -> String {
        format!("{}{repo_tag}", self.base)
    }

    /// The policy file of these tests (in the trust lock's directory).
    fn write_policy(&self, text: &str) -> PathBuf {
        let p = self.work.path().join("policy.yaml");
        let tmp = self.work.path().join("policy.yaml.tmp");
        std::fs::write(&tmp, text.replace("BASE/", &self.base)).unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        p
    }
}

const POLICY: &str = r#"# The test policy.
default: deny
rules:
  - match: "BASE/*"
    trust_lock: vouch-trust.json
  - match: "BASE/strict"
    trust_lock: vouch-trust.json
    signers: ["targets/releases"]
  - match: "BASE/warned"
    trust_lock: vouch-trust.json
    mode: warn
  - match: "BASE/lenient"
    trust_lock: vouch-trust.json
    on_error: allow
  - match: "docker.io/library/busybox"
    namespaces: ["tools"]
    action: allow
"#;

#[test]
fn webhook_admits_signed_images_pinned_and_denies_the_rest() {
    let scene = Scene::new();
    let tls = make_tls_files();
    let policy = scene.write_policy(POLICY);
    let hook = Webhook::start(&policy, &tls, &scene.url);
    let dir = tempfile::tempdir().unwrap();
    let app10 = scene.img("app:1.0");
    let pinned10 = format!("{app10}@{}", scene.app10);

    // Signed tag: allowed, with a patch; kubectl applies it and the image is the signed digest.
    let deploy = workload("deployment", "web", &app10, &[]);
    let resp = hook.send(&review(&deploy, "prod", ""));
    let patch = patch_of(&resp);
    assert_eq!(
        patch,
        json!([
            {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": app10},
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": pinned10},
        ])
    );
    let patched = apply_patch(dir.path(), &deploy, &patch);
    assert_eq!(images(&patched), vec![pinned10.clone()]);
    // Nothing else in the object changed.
    let mut back = patched.clone();
    back["spec"]["template"]["spec"]["containers"][0]["image"] = json!(app10);
    assert_eq!(back, deploy);

    // Replayed: the same request gets the same answer (from the cache); the patched object
    // (and a pod created from it) is re-verified by digest and not mutated again.
    let again = hook.send(&review(&deploy, "prod", ""));
    assert_eq!(patch_of(&again), patch);
    let resp = hook.send(&review(&patched, "prod", ""));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(resp.get("patch").is_none(), "{resp}");
    let by_digest = format!("{}@{}", scene.img("app"), scene.app11);
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-abc", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "x", "controller": true}]},
        "spec": {"containers": [{"name": "a", "image": pinned10}, {"name": "b", "image": by_digest}]}});
    let resp = hook.send(&review(&pod, "prod", ""));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(resp.get("patch").is_none(), "{resp}");

    // A CronJob: the image under spec.jobTemplate.
    let cron = workload(
        "cronjob",
        "nightly",
        &scene.img("app:1.1"),
        &["--schedule=0 3 * * *"],
    );
    let patch = patch_of(&hook.send(&review(&cron, "prod", "")));
    assert_eq!(
        patch[1]["path"],
        "/spec/jobTemplate/spec/template/spec/containers/0/image"
    );
    let patched = apply_patch(dir.path(), &cron, &patch);
    assert_eq!(
        images(&patched),
        vec![format!("{}@{}", scene.img("app:1.1"), scene.app11)]
    );

    // An ephemeral container added through the pods/ephemeralcontainers subresource.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug-me"},
        "spec": {"containers": [{"name": "main", "image": pinned10}],
                 "ephemeralContainers": [{"name": "dbg", "image": scene.img("app:1.1"), "targetContainerName": "main"}]}});
    let patch = patch_of(&hook.send(&review(&pod, "prod", "ephemeralcontainers")));
    assert_eq!(patch[1]["path"], "/spec/ephemeralContainers/0/image");
    let patched = apply_patch(dir.path(), &pod, &patch);
    assert_eq!(
        patched["spec"]["ephemeralContainers"][0]["image"],
        format!("{}@{}", scene.img("app:1.1"), scene.app11)
    );

    // Denials, each naming the image and the failed check.
    let unsigned = scene.img("app:unsigned");
    let m = denied_message(&hook.send(&review(
        &workload("deployment", "u", &unsigned, &[]),
        "prod",
        "",
    )));
    assert!(m.contains(&unsigned) && m.contains("is not signed"), "{m}");

    let moving = scene.img("app:moving");
    let m = denied_message(&hook.send(&review(&workload("job", "m", &moving, &[]), "prod", "")));
    assert!(m.contains(&moving) && m.contains("now serves"), "{m}");

    let strict = scene.img("strict:1.0");
    let m = denied_message(&hook.send(&review(
        &workload("deployment", "s", &strict, &[]),
        "prod",
        "",
    )));
    assert!(m.contains(&strict) && m.contains("targets/releases"), "{m}");

    let m = denied_message(&hook.send(&review(
        &workload("deployment", "n", "nginx:1.25", &[]),
        "prod",
        "",
    )));
    assert!(
        m.contains("nginx:1.25") && m.contains("no policy rule matches docker.io/library/nginx"),
        "{m}"
    );
    // An allow rule restricted to a namespace applies there only.
    let bb = workload("deployment", "bb", "busybox:1.36", &[]);
    let resp = hook.send(&review(&bb, "tools", ""));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(resp.get("patch").is_none());
    denied_message(&hook.send(&review(&bb, "prod", "")));

    // One unsigned image denies the whole object (and nothing is patched).
    let mixed = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "mixed"},
        "spec": {"initContainers": [{"name": "i", "image": unsigned}], "containers": [{"name": "a", "image": app10}]}});
    let m = denied_message(&hook.send(&review(&mixed, "prod", "")));
    assert!(m.contains("/spec/initContainers/0/image"), "{m}");

    // Warn mode: admitted, with a warning and an audit annotation; not patched.
    let warned = scene.img("warned:unsigned");
    let resp = hook.send(&review(
        &workload("deployment", "w", &warned, &[]),
        "prod",
        "",
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(resp.get("patch").is_none(), "{resp}");
    let w = resp["warnings"][0].as_str().unwrap();
    assert!(w.contains(&warned) && w.contains("is not signed"), "{w}");
    assert!(resp["auditAnnotations"]["images-not-verified"]
        .as_str()
        .unwrap()
        .contains(&warned));

    // One JSON line per decision on stderr.
    let log = hook.log();
    let decisions: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["msg"] == "admission review")
        .collect();
    assert_eq!(decisions.len(), 14, "{log}");
    assert!(decisions.iter().any(|d| d["allowed"] == false
        && d["images"][0]["result"] == "not-trusted"
        && d["images"][0]["image"] == unsigned));

    // Metrics: reviews by verdict, cache hits, the latency histogram.
    let (status, metrics) = hook.get("/metrics");
    assert_eq!(status, 200);
    for want in [
        "vouch_admission_reviews_total{verdict=\"allowed\"} 7\n",
        "vouch_admission_reviews_total{verdict=\"denied\"} 6\n",
        "vouch_admission_reviews_total{verdict=\"warned\"} 1\n",
        "vouch_admission_review_duration_seconds_count 14\n",
        "vouch_admission_notary_errors_total 0\n",
    ] {
        assert!(metrics.contains(want), "{want}: {metrics}");
    }
    assert!(
        !metrics.contains("vouch_admission_cache_hits_total 0\n"),
        "{metrics}"
    );
    assert_eq!(hook.get("/readyz").0, 200);
}

#[test]
fn webhook_fails_closed_reloads_and_stops_gracefully() {
    let mut scene = Scene::new();
    let tls = make_tls_files();
    let policy = scene.write_policy(POLICY);
    let mut hook = Webhook::start(&policy, &tls, &scene.url);
    let app10 = scene.img("app:1.0");
    let deploy = workload("deployment", "web", &app10, &[]);
    patch_of(&hook.send(&review(&deploy, "prod", "")));

    // Policy reload: the file changes, the next requests follow it.
    scene.write_policy(&POLICY.replace(
        "  - match: \"BASE/*\"\n    trust_lock: vouch-trust.json\n",
        "  - match: \"BASE/*\"\n    action: deny\n",
    ));
    let mut resp = Value::Null;
    hook.wait_for("the policy was not reloaded", || {
        resp = hook.send(&review(&deploy, "prod", ""));
        resp["allowed"] == false
    });
    let m = denied_message(&resp);
    assert!(m.contains("rule 1") && m.contains("denies it"), "{m}");
    // A broken policy is refused; the previous one stays in use.
    scene.write_policy("default: deny\nrules:\n  - match: BASE/*\n    action: maybe\n");
    hook.wait_for("the broken policy was not refused", || {
        hook.log().contains("policy not reloaded")
    });
    assert!(denied_message(&hook.send(&review(&deploy, "prod", ""))).contains("denies it"));
    scene.write_policy(POLICY);
    hook.wait_for("the image is still denied", || {
        hook.send(&review(&deploy, "prod", ""))["allowed"] != false
    });

    // A trust lock the policy names is reloaded too: a repository it no longer pins is
    // denied (not trusted on first use), and allowed again when it is pinned again.
    let lock_text = std::fs::read_to_string(&scene.lock).unwrap();
    let mut lock: Value = serde_json::from_str(&lock_text).unwrap();
    lock["repositories"]
        .as_object_mut()
        .unwrap()
        .remove(&scene.img("app"));
    let write_lock = |text: &str| {
        let tmp = scene.lock.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &scene.lock).unwrap();
    };
    write_lock(&lock.to_string());
    hook.wait_for("the trust lock was not reloaded", || {
        resp = hook.send(&review(&deploy, "prod", ""));
        resp["allowed"] == false
    });
    let m = denied_message(&resp);
    assert!(m.contains("is not pinned in the trust lock"), "{m}");
    write_lock(&lock_text);
    hook.wait_for("the image is still denied", || {
        hook.send(&review(&deploy, "prod", ""))["allowed"] != false
    });

    // Certificate rotation: new files in place; clients trusting only the new CA connect.
    let new_tls = make_tls_files();
    let new_client = client_for(&new_tls.ca_cert);
    let healthz = hook.url("/healthz");
    assert!(
        new_client.get(&healthz).send().is_err(),
        "the new CA is not in use yet"
    );
    for (from, to) in [
        (&new_tls.server_key, &tls.server_key),
        (&new_tls.server_cert, &tls.server_cert),
    ] {
        let tmp = to.with_extension("new");
        std::fs::copy(from, &tmp).unwrap();
        std::fs::rename(&tmp, to).unwrap();
    }
    hook.wait_for("the certificate was not reloaded", || {
        new_client.get(&healthz).send().is_ok()
    });
    hook.client = new_client;
    assert!(hook.log().contains("TLS certificate reloaded"));

    // Notary down: an image not verified before is denied with the reason (fail closed);
    // a rule with on_error: allow admits with a warning.
    drop(scene.server.take());
    let app11 = scene.img("app:1.1");
    let m = denied_message(&hook.send(&review(
        &workload("deployment", "d", &app11, &[]),
        "prod",
        "",
    )));
    assert!(
        m.contains(&app11) && m.contains(&scene.url) && m.contains("fail closed"),
        "{m}"
    );
    let lenient = scene.img("lenient:1.0");
    let resp = hook.send(&review(
        &workload("deployment", "l", &lenient, &[]),
        "prod",
        "",
    ));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(resp.get("patch").is_none());
    assert!(
        resp["warnings"][0]
            .as_str()
            .unwrap()
            .contains("on_error: allow"),
        "{resp}"
    );
    let (_, metrics) = hook.get("/metrics");
    assert!(
        metrics.contains("vouch_admission_notary_errors_total 2\n"),
        "{metrics}"
    );

    // SIGTERM: not ready, in-flight answered, exit 0.
    let status = hook.terminate();
    assert!(status.success(), "{status:?}: {}", hook.log());
    let log = hook.log();
    assert!(
        log.contains("\"msg\":\"stopping\"") && log.contains("\"msg\":\"stopped\""),
        "{log}"
    );
    let _ = (&scene.reg, &scene.publisher, &scene.oci, &scene.lock);
}

#[test]
fn a_stalled_notary_server_is_denied_at_the_deadline_without_blocking_the_server() {
    // A notary server that accepts connections and never answers.
    let stalled = support::httpd::HttpServer::start_raw(|s| {
        std::thread::sleep(Duration::from_secs(8));
        drop(s);
    });
    let dir = tempfile::tempdir().unwrap();
    let gun = "127.0.0.1:5000/slow/app";
    std::fs::write(
        dir.path().join("vouch-trust.json"),
        json!({"vouch_trust_lock": 1, "repositories": {gun: {"root_keys": ["ab".repeat(32)], "root_version": 1}}})
            .to_string(),
    )
    .unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "default: deny\nrules:\n  - match: \"127.0.0.1:5000/slow/*\"\n    trust_lock: vouch-trust.json\n    server: {}\n    on_error: allow\n",
            stalled.url
        ),
    )
    .unwrap();
    let tls = make_tls_files();
    let hook = Webhook::start_with(
        &policy,
        &tls,
        &stalled.url,
        &["--deadline", "1", "--remote-timeout", "20"],
    );
    let object = workload("deployment", "slow", &format!("{gun}:1.0"), &[]);
    let sent = Instant::now();
    let waiting = std::thread::scope(|scope| {
        let h = scope.spawn(|| hook.send(&review(&object, "prod", "")));
        // While the verdict waits on the notary server, the server still answers.
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        assert_eq!(hook.get("/healthz").0, 200);
        let health = t.elapsed();
        (h.join().unwrap(), health)
    });
    let (resp, health) = waiting;
    let took = sent.elapsed();
    // Not decided in time is denied, even under on_error: allow (fail closed).
    let m = denied_message(&resp);
    assert!(m.contains("deadline"), "{m}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "answered after {took:?}"
    );
    assert!(
        health < Duration::from_millis(500),
        "/healthz took {health:?}"
    );

    // The API server's own timeout (`?timeout=`) shortens the deadline further.
    let body = review(&object, "prod", "");
    let sent = Instant::now();
    let r = hook
        .client
        .post(format!("{}?timeout=0.5s", hook.url("/mutate")))
        .body(body.to_string())
        .send()
        .unwrap();
    let took = sent.elapsed();
    let resp: Value = serde_json::from_slice(&r.bytes().unwrap()).unwrap();
    assert!(
        denied_message(&resp["response"]).contains("0.5 s deadline"),
        "{resp}"
    );
    assert!(took < Duration::from_millis(900), "answered after {took:?}");
}

#[test]
fn webhook_rules_verify_the_signature_format_they_name() {
    // One repository: 1.0 signed as a Notary v1 target and with a cosign signature,
    // 2.0 as a Notary v1 target only.
    let reg = Registry::start();
    let server = NotaryServer::start();
    let work = tempfile::tempdir().unwrap();
    let mut oci = OciLayout::new(&work.path().join("oci"));
    let cosigned = oci
        .add_image("cosigned", "signed with cosign too", "amd64")
        .digest;
    let notary_only = oci.add_image("notary", "notary v1 only", "amd64").digest;
    reg.push_oci(&oci, "cosigned", "demo/fmt:1.0");
    reg.push_oci(&oci, "notary", "demo/fmt:2.0");
    let gun = reg.image("demo/fmt");
    let publisher = tempfile::tempdir().unwrap();
    let p = publisher.path();
    let lock = work.path().join("vouch-trust.json");
    ok(v(p), &["--server", &server.url, "init", &gun]);
    ok(
        v(p),
        &[
            "trust",
            "pin",
            &gun,
            "--from-cache",
            "--trust-lock",
            lock.to_str().unwrap(),
        ],
    );
    let o = ok(
        v(p),
        &[
            "--server",
            &server.url,
            "sign",
            &format!("{gun}:1.0"),
            "--oci",
            "cosign",
        ],
    );
    assert!(
        o.stderr.contains("cosign signature published"),
        "{}",
        o.stderr
    );
    ok(
        v(p),
        &["--server", &server.url, "sign", &format!("{gun}:2.0")],
    );

    // Namespace "any" gets the rule with format: any (more specific: it names namespaces).
    let policy = work.path().join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "default: deny\nrules:\n  - match: \"{gun}\"\n    trust_lock: vouch-trust.json\n    format: cosign\n  - match: \"{gun}\"\n    namespaces: [\"any\"]\n    trust_lock: vouch-trust.json\n    format: any\n"
        ),
    )
    .unwrap();
    let tls = make_tls_files();
    let hook = Webhook::start(&policy, &tls, &server.url);
    let dir = tempfile::tempdir().unwrap();

    // format: cosign admits the cosign-signed tag, pinned to the digest the signature covers.
    let img10 = format!("{gun}:1.0");
    let pinned10 = format!("{img10}@{cosigned}");
    let deploy = workload("deployment", "cosigned", &img10, &[]);
    let patch = patch_of(&hook.send(&review(&deploy, "prod", "")));
    assert_eq!(
        patch,
        json!([
            {"op": "test", "path": "/spec/template/spec/containers/0/image", "value": img10},
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": pinned10},
        ])
    );
    assert_eq!(
        images(&apply_patch(dir.path(), &deploy, &patch)),
        vec![pinned10]
    );

    // format: any admits a tag that only has a Notary v1 signature, pinned the same way.
    let img20 = format!("{gun}:2.0");
    let notary_deploy = workload("deployment", "notary", &img20, &[]);
    let patch = patch_of(&hook.send(&review(&notary_deploy, "any", "")));
    assert_eq!(
        patch[1],
        json!({"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": format!("{img20}@{notary_only}")})
    );

    // format: cosign denies it, naming cosign — although the same reference was just
    // verified (and cached) under format: any.
    let m = denied_message(&hook.send(&review(&notary_deploy, "prod", "")));
    assert!(
        m.contains(&img20) && m.contains("no cosign signature verifies"),
        "{m}"
    );

    // By digest alone: the cosign signature of that digest admits it, unpatched.
    let by_digest = format!("{gun}@{cosigned}");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": by_digest}]}});
    let resp = hook.send(&review(&pod, "prod", ""));
    assert_eq!(resp["allowed"], true, "{resp}");
    assert!(resp.get("patch").is_none(), "{resp}");

    // The decision log and the metrics name the formats.
    let log = hook.log();
    let decisions: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["msg"] == "admission review")
        .collect();
    assert_eq!(decisions.len(), 4, "{log}");
    let first = &decisions[0]["images"][0];
    assert_eq!(first["format"], "cosign", "{log}");
    assert_eq!(first["verified_format"], "cosign", "{log}");
    assert_eq!(decisions[1]["images"][0]["format"], "any", "{log}");
    assert_eq!(
        decisions[1]["images"][0]["verified_format"], "notary",
        "{log}"
    );
    assert_eq!(decisions[2]["images"][0]["format"], "cosign", "{log}");
    assert_eq!(decisions[2]["images"][0]["result"], "not-trusted", "{log}");
    assert_eq!(decisions[2]["images"][0]["cached"], false, "{log}");
    let (_, metrics) = hook.get("/metrics");
    for want in [
        "vouch_admission_image_checks_total{format=\"cosign\",result=\"verified\"} 2\n",
        "vouch_admission_image_checks_total{format=\"cosign\",result=\"not_trusted\"} 1\n",
        "vouch_admission_image_checks_total{format=\"any\",result=\"verified\"} 1\n",
        "vouch_admission_images_verified_total{format=\"notary\"} 1\n",
        "vouch_admission_images_verified_total{format=\"cosign\"} 2\n",
    ] {
        assert!(metrics.contains(want), "{want}: {metrics}");
    }
}
