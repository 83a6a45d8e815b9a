//! A real `docker-registry` (distribution 2.8) on a free 127.0.0.1 port with a temporary
//! filesystem root, and images built by hand (no network) and pushed with `skopeo`.
//!
//! Images are deterministic: layers are `tar --sort=name --mtime=2020-01-01 --owner=0
//! --group=0 --numeric-owner` piped through `gzip -n`, and every JSON document is written
//! byte for byte here, so a manifest's digest is known before it is pushed.
//!
//! - OCI manifests and indexes go into an OCI layout and are pushed from `oci:DIR:TAG`
//!   (`--all` for an index) with `--preserve-digests`.
//! - Docker v2 manifests and manifest lists (which skopeo does not read from an OCI layout)
//!   go into skopeo's `dir:` layout — `manifest.json`, blobs named by hex digest, child
//!   manifests as `<hex>.manifest.json` — and are pushed with `--preserve-digests` too.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use super::{free_port, http_get_status, require_binary};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// A running docker-registry; killed (by pid) on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    /// `127.0.0.1:PORT`: the registry part of image references.
    pub host: String,
    /// `user:password` when htpasswd auth is on.
    pub creds: Option<String>,
    pub tls: bool,
    /// A certs.d-style directory skopeo presents client certificates from.
    pub cert_dir: Option<PathBuf>,
    dir: tempfile::TempDir,
}

/// Registry options.
#[derive(Default)]
pub struct RegistryConfig {
    /// htpasswd basic auth for this user and password.
    pub htpasswd: Option<(String, String)>,
    /// (certificate, key): serve HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: require a client certificate signed by this CA (`http.tls.clientcas`).
    pub client_ca: Option<PathBuf>,
    /// Docker token auth with this token server (`auth.token`, as for notary-server).
    pub token: Option<(String, String, String, PathBuf)>,
}

impl RegistryConfig {
    /// Token auth by `t` (realm, service, issuer, root certificate bundle).
    pub fn token_auth(t: &super::token::TokenServer) -> RegistryConfig {
        RegistryConfig {
            token: Some((
                t.realm.clone(),
                t.service.clone(),
                t.issuer.clone(),
                t.cert_bundle.clone(),
            )),
            ..Default::default()
        }
    }
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with(&RegistryConfig::default())
    }

    pub fn start_with_htpasswd(user: &str, password: &str) -> Registry {
        Registry::start_with(&RegistryConfig {
            htpasswd: Some((user.into(), password.into())),
            ..Default::default()
        })
    }

    /// Starts a registry; with token auth, pushes need `creds` (`user:password`).
    pub fn start_with(cfg: &RegistryConfig) -> Registry {
        let bin = require_binary("docker-registry");
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let data = dir.path().join("data");
            std::fs::create_dir_all(&data).unwrap();
            let mut yaml = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                data.display()
            );
            if let Some((cert, key)) = &cfg.tls {
                yaml.push_str(&format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    cert.display(),
                    key.display()
                ));
                if let Some(ca) = &cfg.client_ca {
                    yaml.push_str(&format!("    clientcas:\n      - {}\n", ca.display()));
                }
            }
            if let Some((user, pass)) = &cfg.htpasswd {
                let out = Command::new(require_binary("htpasswd"))
                    .args(["-Bbn", user, pass])
                    .output()
                    .expect("run htpasswd");
                assert!(out.status.success(), "htpasswd failed");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, out.stdout).unwrap();
                yaml.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: vouch-test-registry\n    path: {}\n",
                    file.display()
                ));
            }
            if let Some((realm, service, issuer, bundle)) = &cfg.token {
                yaml.push_str(&format!(
                    "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                    bundle.display()
                ));
            }
            let config = dir.path().join("config.yml");
            std::fs::write(&config, yaml).unwrap();
            let log = dir.path().join("registry.log");
            let child = Command::new(&bin)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start docker-registry");
            let mut reg = Registry {
                child,
                port,
                host: format!("127.0.0.1:{port}"),
                creds: cfg.htpasswd.as_ref().map(|(u, p)| format!("{u}:{p}")),
                tls: cfg.tls.is_some(),
                cert_dir: None,
                dir,
            };
            if reg.wait_ready() {
                return reg;
            }
            last_log = std::fs::read_to_string(&log).unwrap_or_default();
        }
        panic!("docker-registry did not become ready: {last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // 200 (open), 401 (htpasswd), 400 (a TLS port answering plain HTTP).
            if matches!(
                http_get_status("127.0.0.1", self.port, "/v2/"),
                Some(200 | 401 | 400)
            ) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(30));
        }
        false
    }

    /// `127.0.0.1:PORT/<repo_tag>`.
    pub fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host)
    }

    fn skopeo(&self, args: &[&str]) -> std::process::Output {
        Command::new(require_binary("skopeo"))
            .args(args)
            .env("HOME", self.dir.path())
            .stdin(Stdio::null())
            .output()
            .expect("run skopeo")
    }

    fn copy(&self, src: &str, repo_tag: &str, extra: &[&str]) {
        let dest = format!("docker://{}", self.image(repo_tag));
        let mut args = vec!["copy", "-q", "--dest-tls-verify=false"];
        if let Some(c) = &self.creds {
            args.extend(["--dest-creds", c.as_str()]);
        }
        let cert_dir = self.cert_dir.as_ref().map(|d| d.display().to_string());
        if let Some(d) = &cert_dir {
            args.extend(["--dest-cert-dir", d.as_str()]);
        }
        args.extend(extra);
        args.extend([src, dest.as_str()]);
        let out = self.skopeo(&args);
        assert!(
            out.status.success(),
            "skopeo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Pushes an image from an OCI layout (`--all` for an index), digests preserved.
    pub fn push_oci(&self, layout: &OciLayout, tag: &str, repo_tag: &str) {
        let src = format!("oci:{}:{tag}", layout.dir.display());
        self.copy(&src, repo_tag, &["--preserve-digests", "--all"]);
    }

    /// Pushes a `dir:` layout (Docker media types, `--all` for a list), digests preserved.
    pub fn push_dir(&self, dir: &DirLayout, repo_tag: &str) {
        let src = format!("dir:{}", dir.dir.display());
        self.copy(&src, repo_tag, &["--preserve-digests", "--all"]);
    }

    /// Pushes a single OCI image converted by skopeo to a Docker v2 manifest (a digest only
    /// the registry knows).
    pub fn push_converted_v2s2(&self, layout: &OciLayout, tag: &str, repo_tag: &str) {
        let src = format!("oci:{}:{tag}", layout.dir.display());
        self.copy(&src, repo_tag, &["--format", "v2s2"]);
    }

    /// Deletes the manifest `repo_tag` points to (`skopeo delete`): the tag is gone.
    pub fn delete(&self, repo_tag: &str) {
        let dest = format!("docker://{}", self.image(repo_tag));
        let mut args = vec!["delete", "--tls-verify=false"];
        if let Some(c) = &self.creds {
            args.extend(["--creds", c.as_str()]);
        }
        args.push(dest.as_str());
        let out = self.skopeo(&args);
        assert!(
            out.status.success(),
            "skopeo {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The manifest bytes as skopeo reads them back (`skopeo inspect --raw`).
    pub fn inspect_raw(&self, repo_tag: &str) -> Vec<u8> {
        let src = format!("docker://{}", self.image(repo_tag));
        let mut args = vec!["inspect", "--raw", "--tls-verify=false"];
        if let Some(c) = &self.creds {
            args.extend(["--creds", c.as_str()]);
        }
        args.push(src.as_str());
        let out = self.skopeo(&args);
        assert!(
            out.status.success(),
            "skopeo inspect failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// (`sha256:…`, length) of what `skopeo inspect --raw` reads.
    pub fn served(&self, repo_tag: &str) -> (String, u64) {
        let raw = self.inspect_raw(repo_tag);
        (sha256_digest(&raw), raw.len() as u64)
    }

    /// Stops the registry now (for "unreachable" tests); the port stays unused.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub fn sha256_digest(b: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(b))
}

/// A content descriptor.
#[derive(Clone, Debug)]
pub struct Descriptor {
    pub media_type: String,
    /// `sha256:…`
    pub digest: String,
    pub size: u64,
    pub bytes: Vec<u8>,
}

impl Descriptor {
    fn of(media_type: &str, bytes: Vec<u8>) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: sha256_digest(&bytes),
            size: bytes.len() as u64,
            bytes,
        }
    }
    fn json(&self, platform: Option<&str>) -> String {
        let p = platform
            .map(|a| format!(r#","platform":{{"architecture":"{a}","os":"linux"}}"#))
            .unwrap_or_default();
        format!(
            r#"{{"mediaType":"{}","digest":"{}","size":{}{p}}}"#,
            self.media_type, self.digest, self.size
        )
    }
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }
}

/// A one-file layer (`/file` holding `content`): (gzipped blob, diff ID of the tar).
fn layer(work: &Path, content: &str, media_type: &str) -> (Descriptor, String) {
    let root = work.join(format!("root-{}", sha256_hex(content.as_bytes())));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("file"), content).unwrap();
    let tar = Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=2020-01-01 00:00:00Z",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "-C",
        ])
        .arg(&root)
        .args(["-cf", "-", "."])
        .output()
        .expect("run tar");
    assert!(tar.status.success(), "tar failed");
    let mut gz = Command::new("gzip")
        .args(["-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    {
        use std::io::Write;
        let mut stdin = gz.stdin.take().unwrap();
        stdin.write_all(&tar.stdout).unwrap();
    }
    let out = gz.wait_with_output().unwrap();
    assert!(out.status.success(), "gzip failed");
    (
        Descriptor::of(media_type, out.stdout),
        sha256_digest(&tar.stdout),
    )
}

/// Config, layer and manifest of a one-layer image; `docker` picks Docker media types.
fn image(work: &Path, content: &str, arch: &str, docker: bool) -> Vec<Descriptor> {
    let (cfg_type, layer_type, manifest_type) = if docker {
        (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            DOCKER_MANIFEST,
        )
    } else {
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
            OCI_MANIFEST,
        )
    };
    let (layer, diff_id) = layer(work, content, layer_type);
    let config = Descriptor::of(
        cfg_type,
        format!(
            r#"{{"architecture":"{arch}","os":"linux","config":{{"Cmd":["/file"]}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#
        )
        .into_bytes(),
    );
    let manifest = Descriptor::of(
        manifest_type,
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{},"layers":[{}]}}"#,
            config.json(None),
            layer.json(None)
        )
        .into_bytes(),
    );
    vec![layer, config, manifest]
}

/// An OCI image layout under construction.
pub struct OciLayout {
    pub dir: PathBuf,
    refs: Vec<(String, Descriptor)>,
}

impl OciLayout {
    pub fn new(dir: &Path) -> OciLayout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        OciLayout {
            dir: dir.to_path_buf(),
            refs: vec![],
        }
    }

    fn blob(&self, d: &Descriptor) {
        std::fs::write(self.dir.join("blobs/sha256").join(d.hex()), &d.bytes).unwrap();
    }

    fn write_index(&self) {
        let entries: Vec<String> = self
            .refs
            .iter()
            .map(|(tag, d)| {
                format!(
                    r#"{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}"#,
                    d.media_type, d.digest, d.size
                )
            })
            .collect();
        std::fs::write(
            self.dir.join("index.json"),
            format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                entries.join(",")
            ),
        )
        .unwrap();
    }

    /// Adds a one-layer linux/`arch` image whose `/file` holds `content`, tagged `tag`.
    pub fn add_image(&mut self, tag: &str, content: &str, arch: &str) -> Descriptor {
        let m = self.image_blobs(content, arch);
        self.refs.push((tag.into(), m.clone()));
        self.write_index();
        m
    }

    fn image_blobs(&self, content: &str, arch: &str) -> Descriptor {
        let work = self.dir.with_extension("work");
        let parts = image(&work, content, arch, false);
        for p in &parts {
            self.blob(p);
        }
        parts.last().unwrap().clone()
    }

    /// Adds an OCI index over one image per architecture, tagged `tag`.
    pub fn add_index(&mut self, tag: &str, content: &str, arches: &[&str]) -> Descriptor {
        let children: Vec<String> = arches
            .iter()
            .map(|a| self.image_blobs(&format!("{content} {a}"), a).json(Some(a)))
            .collect();
        let index = Descriptor::of(
            OCI_INDEX,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{}]}}"#,
                children.join(",")
            )
            .into_bytes(),
        );
        self.blob(&index);
        self.refs.push((tag.into(), index.clone()));
        self.write_index();
        index
    }
}

/// skopeo's `dir:` layout holding one Docker v2 manifest or manifest list.
pub struct DirLayout {
    pub dir: PathBuf,
    pub top: Descriptor,
}

impl DirLayout {
    fn start(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("version"), "Directory Transport Version: 1.1\n").unwrap();
    }

    /// A Docker v2 (schema 2) manifest for a one-layer linux/amd64 image.
    pub fn docker_image(dir: &Path, content: &str) -> DirLayout {
        DirLayout::start(dir);
        let parts = image(&dir.with_extension("work"), content, "amd64", true);
        let (blobs, m) = parts.split_at(2);
        for b in blobs {
            std::fs::write(dir.join(b.hex()), &b.bytes).unwrap();
        }
        std::fs::write(dir.join("manifest.json"), &m[0].bytes).unwrap();
        DirLayout {
            dir: dir.to_path_buf(),
            top: m[0].clone(),
        }
    }

    /// A Docker manifest list over one Docker v2 image per architecture.
    pub fn docker_list(dir: &Path, content: &str, arches: &[&str]) -> DirLayout {
        DirLayout::start(dir);
        let mut children = vec![];
        for a in arches {
            let parts = image(
                &dir.with_extension("work"),
                &format!("{content} {a}"),
                a,
                true,
            );
            let (blobs, m) = parts.split_at(2);
            for b in blobs {
                std::fs::write(dir.join(b.hex()), &b.bytes).unwrap();
            }
            std::fs::write(
                dir.join(format!("{}.manifest.json", m[0].hex())),
                &m[0].bytes,
            )
            .unwrap();
            children.push(m[0].json(Some(a)));
        }
        let list = Descriptor::of(
            DOCKER_LIST,
            format!(
                r#"{{"schemaVersion":2,"mediaType":"{DOCKER_LIST}","manifests":[{}]}}"#,
                children.join(",")
            )
            .into_bytes(),
        );
        std::fs::write(dir.join("manifest.json"), &list.bytes).unwrap();
        DirLayout {
            dir: dir.to_path_buf(),
            top: list,
        }
    }
}
