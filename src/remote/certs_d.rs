//! Docker's per-registry certificate directories, `certs.d/<host[:port]>/`, read as docker
//! and podman read them: every `*.crt` is a CA certificate added to the system roots;
//! `<name>.cert` with `<name>.key` is a client certificate (the first pair by name is
//! used). A `.cert` without its `.key`, or a `.key` without its `.cert`, is an error, as in
//! docker.

use std::path::{Path, PathBuf};

use super::RemoteError;

/// What a registry's certificate directory holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CertsDir {
    pub dir: PathBuf,
    /// CA certificate files (`*.crt`), sorted by name.
    pub cas: Vec<PathBuf>,
    /// The client certificate and its key.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl CertsDir {
    /// Give `tls` this directory's client certificate when it names none.
    pub fn fill_client(&self, tls: &mut super::TlsOptions) {
        if let (None, None, Some((cert, key))) = (&tls.client_cert, &tls.client_key, &self.client) {
            tls.client_cert = Some(cert.clone());
            tls.client_key = Some(key.clone());
        }
    }
}

/// `$VAR` as a path, when set and not empty.
fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// Where certificate directories are looked for, first match wins:
/// `$XDG_CONFIG_HOME/docker/certs.d` (default `~/.config/docker/certs.d`, as rootless docker
/// uses), then `/etc/docker/certs.d`.
pub fn search_roots() -> Vec<PathBuf> {
    let config_home =
        env_path("XDG_CONFIG_HOME").or_else(|| env_path("HOME").map(|h| h.join(".config")));
    let mut roots: Vec<PathBuf> = config_home
        .map(|c| c.join("docker").join("certs.d"))
        .into_iter()
        .collect();
    roots.push(PathBuf::from("/etc/docker/certs.d"));
    roots
}

/// Where docker's CLI keeps the certificates of notary servers for `docker trust`:
/// `$DOCKER_CONFIG/tls` (default `~/.docker/tls`), one `<host[:port]>` directory each, in
/// the same format.
pub fn docker_trust_roots() -> Vec<PathBuf> {
    env_path("DOCKER_CONFIG")
        .or_else(|| env_path("HOME").map(|h| h.join(".docker")))
        .map(|d| d.join("tls"))
        .into_iter()
        .collect()
}

/// The certificate directory of registry `host` (`host[:port]`) under the first of `roots`
/// that has one.
pub fn find(roots: &[PathBuf], host: &str) -> Result<Option<CertsDir>, RemoteError> {
    // A host name is one path component; anything else is never joined onto a path.
    if host.is_empty() || host.contains(['/', '\\']) || host.starts_with('.') {
        return Ok(None);
    }
    for root in roots {
        let dir = root.join(host);
        if dir.is_dir() {
            return read(&dir).map(Some);
        }
    }
    Ok(None)
}

fn read(dir: &Path) -> Result<CertsDir, RemoteError> {
    let bad = |message: String| RemoteError::TlsSetup { message };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| bad(format!("certificate directory {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut out = CertsDir {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    for f in &files {
        match f.extension().and_then(|x| x.to_str()) {
            Some("crt") => out.cas.push(f.clone()),
            Some("cert") => {
                let key = f.with_extension("key");
                if !key.is_file() {
                    return Err(bad(format!(
                        "client certificate {} has no key {} beside it",
                        f.display(),
                        key.display()
                    )));
                }
                out.client.get_or_insert((f.clone(), key));
            }
            Some("key") if !f.with_extension("cert").is_file() => {
                return Err(bad(format!(
                    "client key {} has no certificate {} beside it",
                    f.display(),
                    f.with_extension("cert").display()
                )));
            }
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cas_and_the_first_client_pair_and_refuses_half_pairs() {
        let tmp = tempfile::tempdir().unwrap();
        let roots = [tmp.path().join("user"), tmp.path().join("system")];
        let host = "reg.example.com:5000";
        assert_eq!(find(&roots, host).unwrap(), None);

        let sys = roots[1].join(host);
        std::fs::create_dir_all(&sys).unwrap();
        for f in [
            "b.crt", "a.crt", "z.cert", "z.key", "c.cert", "c.key", "README",
        ] {
            std::fs::write(sys.join(f), "x").unwrap();
        }
        let found = find(&roots, host).unwrap().unwrap();
        assert_eq!(found.cas, [sys.join("a.crt"), sys.join("b.crt")]);
        assert_eq!(found.client, Some((sys.join("c.cert"), sys.join("c.key"))));

        // The user's directory wins over the system's.
        let user = roots[0].join(host);
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join("only.crt"), "x").unwrap();
        let found = find(&roots, host).unwrap().unwrap();
        assert_eq!(
            (found.cas, found.client),
            (vec![user.join("only.crt")], None)
        );

        std::fs::write(user.join("lonely.key"), "x").unwrap();
        let e = find(&roots, host).unwrap_err().to_string();
        assert!(
            e.contains("lonely.key") && e.contains("no certificate"),
            "{e}"
        );
        std::fs::remove_file(user.join("lonely.key")).unwrap();
        std::fs::write(user.join("lonely.cert"), "x").unwrap();
        let e = find(&roots, host).unwrap_err().to_string();
        assert!(e.contains("lonely.cert") && e.contains("no key"), "{e}");

        for odd in ["", "../etc", "a/b", ".hidden"] {
            assert_eq!(find(&roots, odd).unwrap(), None, "{odd:?}");
        }
    }
}
