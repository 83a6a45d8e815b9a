//! What an image reference in a manifest pins to, by a repository's verified state: the
//! verdict of `vouch verify` for `repo:tag`, and for references that carry a digest.

use crate::error::Error;
use crate::manifests::ManifestError;
use crate::reference::Reference;

use super::verdict::{self, Query, TrustedTarget};
use super::{view, RepoState};

/// What an image reference pins to in a verified repository state.
#[derive(Debug, Clone)]
pub struct ImageVerdict {
    /// The signed tag that decided (for a reference by digest alone: a tag that carries it).
    pub tag: String,
    /// The signed digest, `sha256:HEX`.
    pub digest: String,
    /// The reference already names this digest.
    pub pinned: bool,
    pub target: TrustedTarget,
}

/// Tag used when a reference names neither tag nor digest (what the kubelet pulls).
pub const DEFAULT_TAG: &str = "latest";

/// The verdict on `reference`, as `vouch verify` gives it: `repo:tag` → the tag's signed
/// digest; `repo:tag@sha256:…` → the tag's signed digest must be that one; `repo@sha256:…`
/// → some signed tag must carry that digest; `repo` → as `repo:latest`.
pub fn check_image(state: &RepoState, reference: &Reference) -> Result<ImageVerdict, Error> {
    match (&reference.tag, &reference.digest) {
        (tag, Some(d)) if tag.is_some() => {
            let tag = tag.as_deref().unwrap_or(DEFAULT_TAG);
            let target = verdict::lookup(state, Query::Tag(tag), &[("the pinned digest", d)])?;
            Ok(ImageVerdict {
                tag: tag.to_owned(),
                digest: target.digest.clone(),
                pinned: true,
                target,
            })
        }
        (_, Some(d)) => {
            for entry in view::all_targets(state) {
                let Ok(target) = verdict::lookup(state, Query::Tag(&entry.name), &[]) else {
                    continue;
                };
                if target.digest.eq_ignore_ascii_case(d) {
                    return Ok(ImageVerdict {
                        tag: entry.name,
                        digest: target.digest.clone(),
                        pinned: true,
                        target,
                    });
                }
            }
            Err(ManifestError::DigestNotSigned {
                gun: state.gun().to_string(),
                digest: d.clone(),
            }
            .into())
        }
        (tag, None) => {
            let tag = tag.as_deref().unwrap_or(DEFAULT_TAG);
            let target = verdict::lookup(state, Query::Tag(tag), &[])?;
            Ok(ImageVerdict {
                tag: tag.to_owned(),
                digest: target.digest.clone(),
                pinned: false,
                target,
            })
        }
    }
}

/// The value to write for `written` (an image as it reads in a manifest) given its
/// verdict: the name as written, the tag, the signed digest (`name:tag@sha256:…`). The tag
/// stays for readers; the digest decides what is pulled. A reference by digest alone is
/// kept as it is.
pub fn pinned_value(written: &str, reference: &Reference, v: &ImageVerdict) -> String {
    pin_to(written, reference, &v.tag, &v.digest)
}

/// [`pinned_value`] for a tag and digest verified otherwise (an OCI signature).
pub fn pin_to(written: &str, reference: &Reference, tag: &str, digest: &str) -> String {
    if reference.tag.is_none() && reference.digest.is_some() {
        return written.to_owned();
    }
    let name = written.split('@').next().unwrap_or(written);
    let name = match &reference.tag {
        Some(t) => name.strip_suffix(&format!(":{t}")).unwrap_or(name),
        None => name,
    };
    format!("{name}:{tag}@{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_value_keeps_the_name_as_written() {
        let v = |tag: &str| ImageVerdict {
            tag: tag.into(),
            digest: "sha256:ab".into(),
            pinned: false,
            target: TrustedTarget {
                gun: String::new(),
                name: String::new(),
                meta: serde_json::from_str(r#"{"length":1,"hashes":{}}"#).unwrap(),
                digest: String::new(),
                role: String::new(),
                signed_by: Vec::new(),
                versions: Vec::new(),
                source: crate::trust::state::Source::Cache,
                anchored_by: crate::trust::anchor::AnchoredBy::Tofu,
                first_use: false,
            },
        };
        let d = "a".repeat(64);
        for (written, tag, want) in [
            ("nginx:1.25", "1.25", "nginx:1.25@sha256:ab".to_owned()),
            ("nginx", "latest", "nginx:latest@sha256:ab".to_owned()),
            (
                "127.0.0.1:5000/app:v1",
                "v1",
                "127.0.0.1:5000/app:v1@sha256:ab".to_owned(),
            ),
            (
                &format!("reg:5000/app:v1@sha256:{d}"),
                "v1",
                "reg:5000/app:v1@sha256:ab".to_owned(),
            ),
            (
                &format!("reg:5000/app@sha256:{d}"),
                "v1",
                format!("reg:5000/app@sha256:{d}"),
            ),
        ] {
            let r = Reference::parse(written).unwrap();
            assert_eq!(pinned_value(written, &r, &v(tag)), want, "{written}");
        }
    }
}
