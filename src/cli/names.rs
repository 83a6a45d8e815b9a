//! One rule for repository names, for every command: Docker's normalisation
//! (`bench/one` → `docker.io/bench/one`, `ubuntu` → `docker.io/library/ubuntu`, a first
//! component with `.` or `:`, or `localhost`, is a registry), whether the command takes a
//! GUN (`init`, `list`, `inspect`, …) or an image (`sign`, `verify`, `unsign IMAGE:TAG`).
//!
//! notary takes GUNs literally, so a trust dir or trust lock may already know a
//! repository by a short name (`notary init bench/one`, or vouch before this rule). Such a
//! name — known in the trust dir's `tuf/` folders, the trust lock or notary's
//! `trust_pinning` — is used as it is, when its normalised form is not known too. Either
//! way, a name that is not used as typed is said on stderr.

use std::collections::BTreeSet;
use std::path::Path;

use vouch::reference::{normalize_repository, typed_repository, Reference};
use vouch::remote::Gun;
use vouch::trust::TrustError;

use super::{usage, CliError, CliResult, Context};

impl Context {
    /// The repository a GUN argument names (see the module documentation).
    pub fn gun(&self, typed: &str) -> CliResult<Gun> {
        let normalized = match normalize_repository(typed) {
            Ok(n) => n,
            Err(e) => {
                if self.known_literally(typed) {
                    return Ok(Gun::parse(typed)?);
                }
                if let Ok(r) = Reference::parse(typed) {
                    // A tag or a digest where a repository name belongs.
                    return Err(usage(format!(
                        "{typed:?} is an image reference; this command takes a repository name (GUN), e.g. {}",
                        r.gun()
                    )));
                }
                // Not a Docker name (e.g. upper-case letters), but a GUN notary would take
                // as it is.
                return match Gun::parse(typed) {
                    Ok(g) => Ok(g),
                    Err(g) => Err(CliError::from(g).with_context(e.reason)),
                };
            }
        };
        self.choose(typed, normalized)
    }

    /// The repository of an image reference `r` parsed from `typed` (IMAGE[:TAG][@DIGEST]).
    pub fn image_gun(&self, typed: &str, r: &Reference) -> CliResult<Gun> {
        self.choose(typed_repository(typed), r.gun())
    }

    fn choose(&self, typed: &str, normalized: String) -> CliResult<Gun> {
        if typed == normalized {
            return Ok(Gun::parse(typed)?);
        }
        if self.known_literally(typed) && !self.known_literally(&normalized) {
            self.note_name(
                typed,
                format!(
                    "Using the repository {typed} as named: this trust dir or trust lock knows it by that name \
                     (created by notary, which takes names literally); Docker would call it {normalized}"
                ),
            );
            return Ok(Gun::parse(typed)?);
        }
        self.note_name(
            typed,
            format!("{typed} is the repository {normalized} (Docker's naming)"),
        );
        Ok(Gun::parse(&normalized)?)
    }

    /// Say once per name how it was read.
    fn note_name(&self, typed: &str, msg: String) {
        if self.names_noted.borrow_mut().insert(typed.to_owned()) {
            self.note(msg);
        }
    }

    /// The trust dir holds state for `name` as it is (a cache or staged changes), or the
    /// trust lock or notary's `trust_pinning` pin it by that name.
    fn known_literally(&self, name: &str) -> bool {
        if Gun::parse(name).is_err() {
            return false;
        }
        let dir = self.trust_dir.join("tuf").join(name);
        if dir.join("metadata").is_dir() || dir.join("changelist").is_dir() {
            return true;
        }
        self.pinned_names().contains(name)
    }

    /// Names the trust lock and notary's `trust_pinning.certs` pin (wildcards left out).
    fn pinned_names(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(path) = self.trust_lock_path() {
            if let Ok(lock) = vouch::trust::pin::TrustLock::load(&path) {
                out.extend(lock.repositories.keys().cloned());
            }
        }
        if let Some(Ok(tp)) = self
            .config_bytes()
            .map(vouch::trust::pin::NotaryTrustPinning::from_config_json)
        {
            out.extend(tp.certs.keys().filter(|k| !k.ends_with('*')).cloned());
        }
        out
    }

    /// Every repository this machine knows: cached or staged in the trust dir, pinned in
    /// the trust lock or in `trust_pinning`.
    pub fn known_guns(&self) -> BTreeSet<String> {
        let mut out = self.pinned_names();
        let base = self.trust_dir.join("tuf");
        fn walk(base: &Path, dir: &Path, depth: usize, out: &mut BTreeSet<String>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            for e in rd.flatten() {
                let p = e.path();
                if !p.is_dir() {
                    continue;
                }
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                if name == "metadata" || name == "changelist" {
                    if let Some(g) = dir.strip_prefix(base).ok().and_then(|g| g.to_str()) {
                        if !g.is_empty() {
                            out.insert(g.to_owned());
                        }
                    }
                } else if !name.starts_with('@') && depth < 16 {
                    walk(base, &p, depth + 1, out);
                }
            }
        }
        walk(&base, &base, 0, &mut out);
        out
    }

    /// "did you mean …" for a repository this machine does not know: the known names
    /// closest to `gun` (by edit distance, or sharing its last path component).
    pub fn did_you_mean(&self, gun: &str) -> Option<String> {
        let known = self.known_guns();
        if known.contains(gun) {
            return None;
        }
        let last = |s: &str| s.rsplit('/').next().unwrap_or(s).to_owned();
        let mut scored: Vec<(usize, String)> = known
            .into_iter()
            .filter_map(|k| {
                let d = edit_distance(gun, &k);
                let close = d <= (gun.len().max(k.len()) / 3).max(2) || last(&k) == last(gun);
                close.then_some((d, k))
            })
            .collect();
        scored.sort();
        let names: Vec<String> = scored.into_iter().take(3).map(|(_, k)| k).collect();
        (!names.is_empty()).then(|| format!("did you mean {}?", names.join(" or ")))
    }

    /// A notary user's trust dir: `~/.notary` exists and the default `~/.vouch` does not.
    pub fn notary_dir_hint(&self) -> Option<String> {
        if self.global.trust_dir.is_some()
            || std::env::var_os("VOUCH_TRUST_DIR").is_some_and(|v| !v.is_empty())
        {
            return None;
        }
        let home = super::home_dir()?;
        let notary = home.join(".notary");
        (notary.is_dir() && !home.join(".vouch").exists()).then(|| {
            format!(
                "{} holds notary's trust data and there is no ~/.vouch: use it with `--trust-dir {}` (or VOUCH_TRUST_DIR)",
                notary.display(),
                notary.display()
            )
        })
    }

    /// What a reading command adds under an error about `gun`: for a repository that is
    /// not there, not pinned or not cached, the names this machine knows and where a
    /// notary user's trust data is. Never `vouch init`: a deploy cannot create what it reads.
    pub fn read_error(&self, gun: &Gun, e: CliError) -> CliError {
        let unknown = matches!(
            e.trust_error(),
            Some(
                TrustError::NoTrustData { .. }
                    | TrustError::NotInitialized { .. }
                    | TrustError::NotCached { .. }
                    | TrustError::NoAnchor { .. }
            )
        ) || e.is_usage();
        if !unknown {
            return e;
        }
        let mut extra: Vec<String> = Vec::new();
        extra.extend(self.did_you_mean(gun.as_str()));
        extra.extend(self.notary_dir_hint());
        if extra.is_empty() {
            e
        } else {
            e.with_hint(extra.join("; "))
        }
    }
}

/// The `--gun` options of `key` commands, read by the same rule: a targets key generated
/// for `bench/one` belongs to the repository `init bench/one` creates, and a root
/// certificate issued for it (`key public --gun`) names that repository.
pub fn key_command_guns(
    ctx: &Context,
    mut cmd: super::args::KeyCommand,
) -> CliResult<super::args::KeyCommand> {
    use super::args::KeyCommand;
    match &mut cmd {
        KeyCommand::Generate { gun, .. }
        | KeyCommand::Import { gun, .. }
        | KeyCommand::Public { gun, .. } => {
            if let Some(g) = gun {
                *g = ctx.gun(g)?.to_string();
            }
        }
        KeyCommand::Backup { gun, .. } | KeyCommand::Unlock { gun, .. } => {
            for g in gun.iter_mut() {
                *g = ctx.gun(g)?.to_string();
            }
        }
        _ => {}
    }
    Ok(cmd)
}

/// Levenshtein distance (names are short).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::edit_distance;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("example.com/app", "example.com/apq"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
