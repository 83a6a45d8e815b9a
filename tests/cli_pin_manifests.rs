//! `vouch pin-manifests`: Kubernetes manifests (made by the real `kubectl create …
//! --dry-run=client -o yaml`, and written by hand: several documents with comments, a Pod
//! with init and ephemeral containers, a List) whose images were pushed with skopeo to a
//! real docker-registry and signed on a real notary-server; verified from a fresh trust dir
//! anchored by a trust lock (`vouch trust pin`). The pinned output is read back with kubectl.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use support::registry::{OciLayout, Registry};
use support::{fails, kubectl, ok, run, NotaryServer, Out};

/// vouch with the test passphrases and no registry credentials from the environment
/// (`support::vouch` starts without them; HOME is the trust dir, which has no docker
/// config).
fn v(trust: &Path) -> assert_cmd::Command {
    support::vouch(trust)
}

/// The images of every object in `file`, as kubectl reads them (sorted).
fn kubectl_images(file: &Path) -> Vec<String> {
    let out = kubectl(&[
        "patch",
        "--local",
        "-f",
        file.to_str().unwrap(),
        "--type=json",
        "-p",
        "[]",
        "-o",
        r#"jsonpath={range ..image}{@}{"\n"}{end}"#,
    ]);
    let mut v: Vec<String> = out.lines().map(str::to_owned).collect();
    v.sort();
    v
}

/// Images pushed to a registry, three tags signed in two repositories, a trust lock.
struct Scene {
    reg: Registry,
    server: NotaryServer,
    _work: tempfile::TempDir,
    _publisher: tempfile::TempDir,
    reader: tempfile::TempDir,
    lock: PathBuf,
    /// `HOST/demo/web`, `HOST/demo/worker`.
    web: String,
    worker: String,
    /// Signed digests: web:1.0, web:1.1, worker:2.0.
    web10: String,
    web11: String,
    worker20: String,
    /// Pushed as web:unsigned, never signed.
    unsigned: String,
    /// The manifests.
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let reg = Registry::start();
        let server = NotaryServer::start();
        let work = tempfile::tempdir().unwrap();
        let mut oci = OciLayout::new(&work.path().join("oci"));
        let web10 = oci.add_image("web10", "web 1.0", "amd64").digest;
        let web11 = oci.add_image("web11", "web 1.1", "amd64").digest;
        let worker20 = oci.add_image("worker20", "worker 2.0", "amd64").digest;
        let unsigned = oci.add_image("unsigned", "not signed", "amd64").digest;
        reg.push_oci(&oci, "web10", "demo/web:1.0");
        reg.push_oci(&oci, "web11", "demo/web:1.1");
        reg.push_oci(&oci, "worker20", "demo/worker:2.0");
        reg.push_oci(&oci, "unsigned", "demo/web:unsigned");
        let web = reg.image("demo/web");
        let worker = reg.image("demo/worker");

        let publisher = tempfile::tempdir().unwrap();
        let p = publisher.path();
        let lock = work.path().join("vouch-trust.json");
        let lock_s = lock.to_str().unwrap();
        for gun in [&web, &worker] {
            ok(v(p), &["--server", &server.url, "init", gun]);
            ok(
                v(p),
                &["trust", "pin", gun, "--from-cache", "--trust-lock", lock_s],
            );
        }
        ok(
            v(p),
            &[
                "--server",
                &server.url,
                "sign",
                &format!("{web}:1.0"),
                &format!("{web}:1.1"),
            ],
        );
        ok(
            v(p),
            &["--server", &server.url, "sign", &format!("{worker}:2.0")],
        );
        Scene {
            reg,
            server,
            _work: work,
            _publisher: publisher,
            reader: tempfile::tempdir().unwrap(),
            lock,
            web,
            worker,
            web10,
            web11,
            worker20,
            unsigned,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// `vouch pin-manifests ARGS` from a fresh trust dir anchored by the trust lock.
    fn cmd(&self) -> assert_cmd::Command {
        let mut c = v(self.reader.path());
        c.args([
            "--server",
            &self.server.url,
            "--trust-lock",
            self.lock.to_str().unwrap(),
            "pin-manifests",
        ]);
        c
    }

    fn pin(&self, args: &[&str]) -> Out {
        run(self.cmd(), args)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The manifests of every kind: (file name, (image as written, signed digest) per image line).
    fn manifests(&self) -> Vec<(&'static str, Vec<(String, String)>)> {
        let (web, worker) = (&self.web, &self.worker);
        let w10 = format!("{web}:1.0");
        let w11 = format!("{web}:1.1");
        let k20 = format!("{worker}:2.0");
        self.write(
            "deploy.yaml",
            &kubectl(&[
                "create",
                "deployment",
                "web",
                &format!("--image={w10}"),
                "--dry-run=client",
                "-o",
                "yaml",
            ]),
        );
        self.write(
            "job.yaml",
            &kubectl(&[
                "create",
                "job",
                "once",
                &format!("--image={k20}"),
                "--dry-run=client",
                "-o",
                "yaml",
            ]),
        );
        self.write(
            "cronjob.yaml",
            &kubectl(&[
                "create",
                "cronjob",
                "nightly",
                &format!("--image={w11}"),
                "--schedule=0 3 * * *",
                "--dry-run=client",
                "-o",
                "yaml",
            ]),
        );
        self.write(
            "stack.yaml",
            &format!(
                r#"---
# Source: demo/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: web   # no image here
spec:
  ports: [{{port: 80}}]
---
# Source: demo/templates/worker.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: "{k20}"   # the worker

        - name: sidecar
          image: '{w10}'
      initContainers: [{{name: init, image: {w11}}}]
...
---
# Source: demo/templates/web.yaml
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  template:
    spec:
      containers:
      - image: {w10}
        name: agent
"#
            ),
        );
        self.write(
            "pod.yaml",
            &format!(
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: debug\nspec:\n  initContainers:\n  - name: init\n    image: {w11}\n  containers:\n  - name: app\n    image: {w10}\n  ephemeralContainers:\n  - name: shell\n    image: {k20}\n"
            ),
        );
        self.write(
            "list.yaml",
            &format!(
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: ReplicaSet\n  metadata:\n    name: rs\n  spec:\n    template:\n      spec:\n        containers:\n        - name: a\n          image: {w10}\n- apiVersion: v1\n  kind: ReplicationController\n  metadata:\n    name: rc\n  spec:\n    template:\n      spec:\n        containers:\n        - name: b\n          image: {k20}\n"
            ),
        );
        let p = |i: &String, d: &String| (i.clone(), d.clone());
        vec![
            ("cronjob.yaml", vec![p(&w11, &self.web11)]),
            ("deploy.yaml", vec![p(&w10, &self.web10)]),
            ("job.yaml", vec![p(&k20, &self.worker20)]),
            (
                "list.yaml",
                vec![p(&w10, &self.web10), p(&k20, &self.worker20)],
            ),
            (
                "pod.yaml",
                vec![
                    p(&w11, &self.web11),
                    p(&w10, &self.web10),
                    p(&k20, &self.worker20),
                ],
            ),
            (
                "stack.yaml",
                vec![
                    p(&k20, &self.worker20),
                    p(&w10, &self.web10),
                    p(&w11, &self.web11),
                    p(&w10, &self.web10),
                ],
            ),
        ]
    }
}

/// `new` is `old` with exactly the image lines changed, in order, each image to
/// `IMAGE@DIGEST` (the tag kept) and nothing else on the line or elsewhere.
fn assert_only_images_pinned(old: &str, new: &str, images: &[(String, String)]) {
    let old_lines: Vec<&str> = old.split('\n').collect();
    let new_lines: Vec<&str> = new.split('\n').collect();
    assert_eq!(old_lines.len(), new_lines.len(), "{new}");
    let mut expected = images.iter();
    for (o, n) in old_lines.iter().zip(&new_lines) {
        let image_line = images.iter().any(|(i, _)| o.contains(i.as_str()));
        if !image_line {
            assert_eq!(o, n, "a line without an image changed");
            continue;
        }
        let (image, digest) = expected.next().expect("more image lines than images");
        assert!(
            o.contains(image.as_str()),
            "{o:?} is not the line of {image}"
        );
        let want = o.replacen(image.as_str(), &format!("{image}@{digest}"), 1);
        assert_eq!(*n, want, "image line");
    }
    assert!(expected.next().is_none(), "an image line was not found");
}

#[test]
fn prints_every_workload_kind_with_only_the_image_values_pinned_to_signed_digests() {
    let s = Scene::new();
    let files = s.manifests();
    let before = support::snapshot_tree(s.dir.path());
    for (name, images) in &files {
        let path = s.path(name);
        let old = std::fs::read_to_string(&path).unwrap();
        let o = s.pin(&[path.to_str().unwrap()]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        assert_only_images_pinned(&old, &o.stdout, images);
        // kubectl reads the pinned output, and finds the pinned images.
        let out = s.path(&format!("{name}.pinned"));
        std::fs::write(&out, &o.stdout).unwrap();
        let mut want: Vec<String> = images.iter().map(|(i, d)| format!("{i}@{d}")).collect();
        want.sort();
        assert_eq!(kubectl_images(&out), want, "{name}");
        std::fs::remove_file(&out).unwrap();
    }
    // A directory: every file, sorted, each after a `# file:` comment, separated by `---`.
    let dir = s.dir.path().to_str().unwrap();
    let o = ok(s.cmd(), &[dir]);
    let mut want = String::new();
    for (i, (name, _)) in files.iter().enumerate() {
        let single = ok(s.cmd(), &[s.path(name).to_str().unwrap()]).stdout;
        if i > 0 {
            want.push_str("---\n");
        }
        want.push_str(&format!("# file: {dir}/{name}\n{single}"));
    }
    assert_eq!(o.stdout, want);
    // Printing changes no file.
    assert_eq!(support::snapshot_tree(s.dir.path()), before);
}

#[test]
fn write_rewrites_files_in_place_keeping_permissions_then_check_passes() {
    let s = Scene::new();
    let files = s.manifests();
    let dir = s.dir.path().to_str().unwrap();
    std::fs::set_permissions(s.path("pod.yaml"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let olds: Vec<String> = files
        .iter()
        .map(|(n, _)| std::fs::read_to_string(s.path(n)).unwrap())
        .collect();
    // Not pinned yet: --check fails, naming each image (kubectl decides its line).
    let deploy_line = olds[1].lines().position(|l| l.contains("image:")).unwrap() + 1;
    let o = fails(s.cmd(), &["--check", dir], 1);
    assert!(o.stderr.contains("not pinned to a digest"), "{}", o.stderr);
    assert!(
        o.stderr
            .contains(&format!("{dir}/deploy.yaml:{deploy_line}: {}:1.0", s.web)),
        "{}",
        o.stderr
    );

    let o = ok(s.cmd(), &["--write", dir]);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
    assert!(
        o.stderr.contains("Pinned 12 image(s) in 6 file(s)"),
        "{}",
        o.stderr
    );
    for ((name, images), old) in files.iter().zip(&olds) {
        let new = std::fs::read_to_string(s.path(name)).unwrap();
        assert_only_images_pinned(old, &new, images);
    }
    let mode = std::fs::metadata(s.path("pod.yaml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o640);
    // No temp file left behind.
    let names: Vec<String> = std::fs::read_dir(s.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), files.len(), "{names:?}");

    // Every image is pinned to a signed digest now.
    let o = ok(s.cmd(), &["--check", dir]);
    assert!(o.stdout.is_empty());
    assert!(
        o.stderr.contains("All 12 image(s) in 6 file(s)"),
        "{}",
        o.stderr
    );
    // Pinning again changes nothing.
    let before = support::snapshot_tree(s.dir.path());
    let o = ok(s.cmd(), &["--write", dir]);
    assert!(o.stderr.contains("Pinned 0 image(s)"), "{}", o.stderr);
    assert_eq!(support::snapshot_tree(s.dir.path()), before);
}

#[test]
fn check_fails_on_unpinned_images_and_on_digests_no_signed_tag_carries() {
    let s = Scene::new();
    let pod = |image: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: {image}\n")
    };
    let web = &s.web;
    // Pinned to signed digests: by tag and digest, and by digest alone.
    let good = s.write(
        "good.yaml",
        &format!(
            "{}---\n{}",
            pod(&format!("{web}:1.0@{}", s.web10)),
            pod(&format!("{web}@{}", s.web11))
        ),
    );
    ok(s.cmd(), &["--check", good.to_str().unwrap()]);
    let o = ok(
        s.cmd(),
        &["--output", "json", "--check", good.to_str().unwrap()],
    );
    let j: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(j["trusted"], true);
    let images = j["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["pointer"], "/spec/containers/0/image");
    assert_eq!(images[0]["object"], "Pod/p");
    assert_eq!(images[0]["status"], "pinned");
    assert_eq!(images[0]["digest"], s.web10.as_str());
    assert_eq!(images[1]["tag"], "1.1");
    assert_eq!(images[1]["line"], 17);

    // Unpinned.
    let f = s.write("unpinned.yaml", &pod(&format!("{web}:1.0")));
    let o = fails(s.cmd(), &["--check", f.to_str().unwrap()], 1);
    assert!(
        o.stderr.contains(&format!(
            "unpinned.yaml:8: {web}:1.0: not pinned to a digest (the signed digest of 1.0 is {})",
            s.web10
        )),
        "{}",
        o.stderr
    );

    // A digest that is in the registry but no signed tag carries.
    let f = s.write(
        "unsigned-digest.yaml",
        &pod(&format!("{web}@{}", s.unsigned)),
    );
    let o = fails(s.cmd(), &["--check", f.to_str().unwrap()], 1);
    assert!(
        o.stderr.contains(&format!(
            "{} is not the signed digest of any tag in {web}",
            s.unsigned
        )),
        "{}",
        o.stderr
    );
    // A signed tag pinned to another digest than the one signed for it.
    let f = s.write("moved.yaml", &pod(&format!("{web}:1.0@{}", s.web11)));
    let o = fails(s.cmd(), &["--check", f.to_str().unwrap()], 1);
    assert!(
        o.stderr.contains(&format!("signed as {}", s.web10))
            && o.stderr
                .contains(&format!("the pinned digest is {}", s.web11)),
        "{}",
        o.stderr
    );
    // …and the print mode refuses it too, printing nothing.
    let o = fails(s.cmd(), &[f.to_str().unwrap()], 1);
    assert!(o.stdout.is_empty(), "{}", o.stdout);
}

#[test]
fn an_unsigned_tag_fails_every_mode_naming_it_and_changes_nothing() {
    let s = Scene::new();
    let (web, worker) = (&s.web, &s.worker);
    let text = format!(
        "# two images, one unsigned\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: a\n    image: {worker}:2.0\n  - name: b\n    image: {web}:unsigned\n"
    );
    let f = s.write("mixed.yaml", &text);
    let fs = f.to_str().unwrap();
    for mode in [&[][..], &["--write"][..], &["--check"][..]] {
        let mut args = mode.to_vec();
        args.push(fs);
        let o = fails(s.cmd(), &args, 1);
        assert!(o.stdout.is_empty(), "{mode:?}: {}", o.stdout);
        assert!(
            o.stderr.contains(&format!(
                "mixed.yaml:11: {web}:unsigned: tag \"unsigned\" of {web} is not signed by targets or targets/releases"
            )),
            "{mode:?}: {}",
            o.stderr
        );
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text, "{mode:?}");
    }
    // A repository the trust lock does not pin: usage error (exit 2), naming it.
    let f = s.write(
        "other.yaml",
        &format!(
            "kind: Pod\nspec:\n  containers:\n  - image: {}\n",
            s.reg.image("demo/other:1")
        ),
    );
    let o = fails(s.cmd(), &[f.to_str().unwrap()], 2);
    assert!(
        o.stderr
            .contains(&format!("{} is not pinned in", s.reg.image("demo/other"))),
        "{}",
        o.stderr
    );
}

#[test]
fn reads_stdin_and_refuses_to_write_it() {
    let s = Scene::new();
    let text = kubectl(&[
        "create",
        "deployment",
        "web",
        &format!("--image={}:1.1", s.web),
        "--dry-run=client",
        "-o",
        "yaml",
    ]);
    let mut c = s.cmd();
    c.write_stdin(text.clone());
    let o = ok(c, &["-"]);
    assert_only_images_pinned(
        &text,
        &o.stdout,
        &[(format!("{}:1.1", s.web), s.web11.clone())],
    );
    let mut c = s.cmd();
    c.write_stdin(text);
    let o = fails(c, &["--write", "-"], 2);
    assert!(
        o.stderr.contains("stdin (-) cannot be rewritten"),
        "{}",
        o.stderr
    );
}

#[test]
fn each_repository_is_read_once_per_run_however_many_images_name_it() {
    use std::sync::{Arc, Mutex};
    use support::httpd::{HttpServer, Request, Response};
    let s = Scene::new();
    // A proxy in front of the notary server that notes every request.
    let upstream = s.server.url.clone();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let noted = seen.clone();
    let proxy = HttpServer::start(move |req: &Request| {
        noted.lock().unwrap().push(req.path().to_owned());
        let r = reqwest::blocking::get(format!("{upstream}{}", req.target)).unwrap();
        let status = r.status().as_u16();
        Response::json(status, r.bytes().unwrap().to_vec())
    });
    let (web, worker) = (&s.web, &s.worker);
    let f = s.write(
        "many.yaml",
        &format!(
            "kind: Pod\nspec:\n  initContainers: [{{image: {web}:1.1}}]\n  containers:\n  - image: {web}:1.0\n  - image: {worker}:2.0\n  - image: {web}:1.0@{}\n---\nkind: Pod\nspec:\n  containers:\n  - image: {worker}:2.0\n",
            s.web10
        ),
    );
    let mut c = v(s.reader.path());
    c.args([
        "--server",
        &proxy.url,
        "--trust-lock",
        s.lock.to_str().unwrap(),
        "pin-manifests",
    ]);
    let o = ok(c, &[f.to_str().unwrap()]);
    assert_eq!(o.stdout.matches("@sha256:").count(), 5, "{}", o.stdout);
    let seen = seen.lock().unwrap().clone();
    for gun in [web, worker] {
        let timestamps = seen
            .iter()
            .filter(|p| p.starts_with(&format!("/v2/{gun}/_trust/tuf/")) && p.contains("timestamp"))
            .count();
        assert_eq!(timestamps, 1, "{gun}: {seen:#?}");
    }
}

#[test]
fn manifests_it_cannot_rewrite_safely_are_refused_before_any_repository_is_read() {
    // No server anywhere: the refusal comes from reading the manifests alone (exit 2).
    let trust = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "anchor.yaml",
            "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: &img reg.example.com/app:1\n",
            "anchor.yaml: line 5: /spec/containers/0/image: an anchor (&name) or tag (!tag) on an image is not supported",
        ),
        (
            "twice.yaml",
            "kind: Pod\nspec:\n  containers:\n  - image: reg.example.com/app:1\n    image: reg.example.com/evil:1\n",
            "twice.yaml: line 5: /spec/containers/0/image: image is given twice in this container",
        ),
        (
            "broken.yaml",
            "kind: Pod\nspec:\n  containers: [\n",
            "broken.yaml: line 4 column 1: not valid YAML",
        ),
        (
            "badref.yaml",
            "kind: Pod\nspec:\n  containers:\n  - image: Reg.example.com/App:1\n",
            "badref.yaml:4: /spec/containers/0/image: invalid image reference",
        ),
    ];
    for (name, text, want) in cases {
        let f = dir.path().join(name);
        std::fs::write(&f, text).unwrap();
        let o = fails(
            v(trust.path()),
            &[
                "--server",
                "http://127.0.0.1:9",
                "pin-manifests",
                "--write",
                f.to_str().unwrap(),
            ],
            2,
        );
        assert!(o.stderr.contains(want), "{name}: {}", o.stderr);
        assert_eq!(std::fs::read_to_string(&f).unwrap(), text, "{name}");
    }
    // A directory without manifests.
    let empty = tempfile::tempdir().unwrap();
    let o = fails(
        v(trust.path()),
        &["pin-manifests", empty.path().to_str().unwrap()],
        2,
    );
    assert!(
        o.stderr.contains("no *.yaml or *.yml file under"),
        "{}",
        o.stderr
    );
}
