//! Shares: the envelope's random key split with Shamir, one printable file per share.

use super::*;

/// A split backup: the envelope and the text of each share file.
pub struct SplitBackup {
    pub envelope: Envelope,
    /// Share `i + 1`'s file text.
    pub shares: Vec<Zeroizing<String>>,
}

pub(super) fn share_digest(index: u8, value: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(b"vouch-key-share\0");
    h.update([index]);
    h.update(value);
    hex::encode(h.finalize())
}

/// The checksum ending a share line: 8 hex characters of SHA-256 over its other words.
pub(super) fn line_checksum(content: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"vouch-share-line\0");
    h.update(content.as_bytes());
    hex::encode(&h.finalize()[..4])
}

pub(super) fn end_digest(contents: &[Zeroizing<String>]) -> String {
    let mut h = Sha256::new();
    for c in contents {
        h.update(c.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

/// Seal `archive` under a random key and split that key into `total` shares, any
/// `threshold` of which restore it.
pub fn split_archive(
    archive: &Archive,
    threshold: usize,
    total: usize,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SplitBackup> {
    let mut key = Zeroizing::new([0u8; 32]);
    rng.fill_bytes(&mut *key);
    let shares = shamir::split(&*key, threshold, total, rng).map_err(BackupError::Split)?;
    let kdf = Kdf::Shamir {
        threshold: threshold as u8,
        shares: total as u8,
        share_sha256: shares
            .iter()
            .map(|s| share_digest(s.index, &s.value))
            .collect(),
    };
    let envelope = seal(archive, kdf, &key, rng)?;
    let texts = shares
        .iter()
        .map(|s| share_text(&envelope, s, threshold, total))
        .collect();
    Ok(SplitBackup {
        envelope,
        shares: texts,
    })
}

pub(super) fn share_text(
    env: &Envelope,
    share: &shamir::Share,
    threshold: usize,
    total: usize,
) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::new());
    // Every line but the end line, for the end line's digest; the secret line is one.
    let mut contents: Vec<Zeroizing<String>> = Vec::new();
    let mut line = |out: &mut String, content: String| {
        out.push_str(&content);
        out.push(' ');
        out.push_str(&line_checksum(&content));
        out.push('\n');
        contents.push(Zeroizing::new(content));
    };
    let i = share.index;
    out.push_str(&format!(
        "# vouch key backup, share {i} of {total}. Any {threshold} of the {total} shares restore the\n\
         # backup; fewer reveal nothing about it. Keep each share in a different place.\n\
         # Created {}. It holds {} key(s); the key files inside stay encrypted under their\n\
         # own passphrases, which are needed to use the keys after a restore.\n\
         # Check: vouch key backup verify SHARE...   Restore: vouch key restore --shares SHARE...\n\
         # Lines starting with # are comments. Every other line ends with a checksum of its\n\
         # other words, so a mistyped line is reported by number.\n",
        env.created(),
        env.keys().len()
    ));
    line(
        &mut out,
        format!(
            "{SHARE_FORMAT} v{VERSION} share={i}/{total} threshold={threshold} archive=sha256:{}",
            env.fingerprint()
        ),
    );
    for k in env.keys() {
        line(&mut out, format!("key {}", label_text(k)));
    }
    let hex = Zeroizing::new(hex::encode(&*share.value));
    let groups: Vec<&str> = hex
        .as_bytes()
        .chunks(8)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    line(&mut out, format!("secret {}", groups.join(" ")));
    let data = B64.encode(env.bytes());
    let chunks: Vec<&[u8]> = data.as_bytes().chunks(SHARE_LINE).collect();
    let n = chunks.len();
    for (j, c) in chunks.iter().enumerate() {
        line(
            &mut out,
            format!(
                "data {}/{n} {}",
                j + 1,
                std::str::from_utf8(c).unwrap_or_default()
            ),
        );
    }
    let end = format!("end {}", end_digest(&contents));
    out.push_str(&end);
    out.push(' ');
    out.push_str(&line_checksum(&end));
    out.push('\n');
    out
}

/// One share file, parsed and checked on its own.
pub struct ShareFile {
    /// How the file was named (for messages).
    pub name: String,
    pub index: u8,
    pub threshold: u8,
    pub total: u8,
    /// Hex SHA-256 of the envelope.
    pub fingerprint: String,
    pub keys: Vec<KeyLabel>,
    value: Zeroizing<Vec<u8>>,
    envelope: Envelope,
}

impl std::fmt::Debug for ShareFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ShareFile({}, {}/{} k={}, {})",
            self.name, self.index, self.total, self.threshold, self.fingerprint
        )
    }
}

/// Parse a share file and check it on its own: every line's checksum, the end line, its
/// copy of the archive against its fingerprint, its secret against the archive's list of
/// share digests.
pub fn parse_share(name: &str, bytes: &[u8]) -> Result<ShareFile> {
    let text = std::str::from_utf8(bytes).map_err(|_| share_err(name, None, "not a text file"))?;
    let mut contents: Vec<Zeroizing<String>> = Vec::new();
    let mut head: Option<(u8, u8, u8, String)> = None;
    let mut keys = Vec::new();
    let mut value: Option<Zeroizing<Vec<u8>>> = None;
    let mut data = String::new();
    let mut data_lines = 0usize;
    let mut data_total: Option<usize> = None;
    let mut ended = false;
    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if ended {
            return Err(share_err(name, Some(lineno), "text after the end line"));
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if head.is_none() && words[0] != SHARE_FORMAT {
            return Err(share_err(
                name,
                Some(lineno),
                format!("not a vouch key share (the first line should start with {SHARE_FORMAT})"),
            ));
        }
        let (check, words) = words.split_last().expect("a non-empty line has a word");
        if words.is_empty() {
            return Err(share_err(name, Some(lineno), "a line with only one word"));
        }
        let content = Zeroizing::new(words.join(" "));
        if !line_checksum(&content).eq_ignore_ascii_case(check) {
            return Err(share_err(
                name,
                Some(lineno),
                format!(
                    "checksum mismatch: the line was mistyped or changed ({}…)",
                    words[0]
                ),
            ));
        }
        let bad = |reason: &str| share_err(name, Some(lineno), reason.to_owned());
        match words[0] {
            SHARE_FORMAT if head.is_none() => {
                let [_, version, share, threshold, archive] = words else {
                    return Err(bad("the header line should have 5 words"));
                };
                if *version != format!("v{VERSION}") {
                    return Err(BackupError::TooNew {
                        what: format!("share {name}"),
                        found: format!("share format {version}"),
                    }
                    .into());
                }
                let (i, total) = share
                    .strip_prefix("share=")
                    .and_then(|s| s.split_once('/'))
                    .and_then(|(i, t)| Some((i.parse::<u8>().ok()?, t.parse::<u8>().ok()?)))
                    .ok_or_else(|| bad("bad share=I/N"))?;
                let k = threshold
                    .strip_prefix("threshold=")
                    .and_then(|t| t.parse::<u8>().ok())
                    .ok_or_else(|| bad("bad threshold=K"))?;
                let fp = archive
                    .strip_prefix("archive=sha256:")
                    .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                    .ok_or_else(|| bad("bad archive=sha256:…"))?
                    .to_ascii_lowercase();
                if i == 0 || i > total || k < 2 || k > total {
                    return Err(bad("impossible share number or threshold"));
                }
                head = Some((i, k, total, fp));
            }
            "key" if value.is_none() && data_lines == 0 => {
                let (id, role, gun) = match words {
                    [_, id, role] => (id, role, None),
                    [_, id, role, gun] => (id, role, Some(gun.to_string())),
                    _ => return Err(bad("a key line is: key ID ROLE [GUN]")),
                };
                keys.push(KeyLabel {
                    id: id.to_string(),
                    role: if *role == "-" {
                        String::new()
                    } else {
                        role.to_string()
                    },
                    gun,
                });
            }
            "secret" if value.is_none() && data_lines == 0 => {
                let hex_text = Zeroizing::new(words[1..].concat());
                let v =
                    hex::decode(&*hex_text).map_err(|_| bad("the secret is not hexadecimal"))?;
                value = Some(Zeroizing::new(v));
            }
            "data" if value.is_some() => {
                let [_, pos, chunk] = words else {
                    return Err(bad("a data line is: data I/N BASE64"));
                };
                let (i, total) = pos
                    .split_once('/')
                    .and_then(|(i, t)| Some((i.parse::<usize>().ok()?, t.parse::<usize>().ok()?)))
                    .ok_or_else(|| bad("bad data line number"))?;
                if i != data_lines + 1 || data_total.is_some_and(|t| t != total) || i > total {
                    return Err(bad(&format!(
                        "data line {i}/{total} out of order: expected {}",
                        data_lines + 1
                    )));
                }
                data_total = Some(total);
                data_lines += 1;
                data.push_str(chunk);
            }
            "end" => {
                let [_, digest] = words else {
                    return Err(bad("an end line is: end DIGEST"));
                };
                if data_total != Some(data_lines) {
                    return Err(bad(&format!(
                        "only {data_lines} of {} data lines",
                        data_total.unwrap_or(0)
                    )));
                }
                if !end_digest(&contents).eq_ignore_ascii_case(digest) {
                    return Err(bad(
                        "the lines above do not add up to the end line: a line is missing, repeated or out of place",
                    ));
                }
                ended = true;
                continue;
            }
            other => return Err(bad(&format!("unexpected {other:?} line here"))),
        }
        contents.push(content);
    }
    drop(contents);
    if !ended {
        return Err(share_err(
            name,
            None,
            "no end line: the share is incomplete",
        ));
    }
    let (index, threshold, total, fingerprint) = head.expect("the header comes first");
    let value = value.ok_or_else(|| share_err(name, None, "no secret line"))?;
    let env_bytes = B64
        .decode(data.as_bytes())
        .map_err(|e| share_err(name, None, format!("data lines: {e}")))?;
    if hex::encode(Sha256::digest(&env_bytes)) != fingerprint {
        return Err(share_err(
            name,
            None,
            "its copy of the archive does not match the archive fingerprint on its first line",
        ));
    }
    let envelope = Envelope::parse(&env_bytes, &format!("share {name}"))?;
    let Kdf::Shamir {
        threshold: k,
        shares: n,
        share_sha256,
    } = &envelope.header.kdf
    else {
        return Err(share_err(name, None, "its archive is not a split backup"));
    };
    if (*k, *n) != (threshold, total) {
        return Err(share_err(
            name,
            None,
            "its first line and its archive disagree about the threshold",
        ));
    }
    if keys != envelope.header.keys {
        return Err(share_err(
            name,
            None,
            "its key lines do not match the keys in its archive",
        ));
    }
    if value.len() != 32
        || share_sha256.get(usize::from(index) - 1) != Some(&share_digest(index, &value))
    {
        return Err(share_err(
            name,
            None,
            format!("its secret (share {index}) does not match the archive: the share is damaged or forged"),
        ));
    }
    Ok(ShareFile {
        name: name.to_owned(),
        index,
        threshold,
        total,
        fingerprint,
        keys,
        value,
        envelope,
    })
}

/// Combine shares (each already checked by [`parse_share`]) and decrypt the archive.
pub fn combine_shares(shares: &[ShareFile]) -> Result<(Envelope, Archive)> {
    let first = shares.first().ok_or_else(|| {
        KeystoreError::from(BackupError::NotEnoughShares {
            have: 0,
            need: 2,
            given: "none".into(),
        })
    })?;
    // All from one backup: same fingerprint. Name the odd ones out.
    let mut groups: BTreeMap<&str, Vec<&ShareFile>> = BTreeMap::new();
    for s in shares {
        groups.entry(&s.fingerprint).or_default().push(s);
    }
    if groups.len() > 1 {
        let mut sizes: Vec<(usize, &str)> = groups.iter().map(|(f, v)| (v.len(), *f)).collect();
        sizes.sort_by(|a, b| b.cmp(a));
        let describe = |v: &[&ShareFile]| {
            v.iter()
                .map(|s| format!("{} (share {})", s.name, s.index))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let reason = if sizes[0].0 > sizes[1].0 {
            let majority = sizes[0].1;
            let odd: Vec<&ShareFile> = shares
                .iter()
                .filter(|s| s.fingerprint != majority)
                .collect();
            format!(
                "{} {} from another backup or altered: archive fingerprint differs from the other shares' sha256:{}",
                describe(&odd),
                if odd.len() == 1 { "is" } else { "are" },
                &majority[..16]
            )
        } else {
            groups
                .iter()
                .map(|(f, v)| format!("{} say sha256:{}", describe(v), &f[..16]))
                .collect::<Vec<_>>()
                .join("; ")
        };
        return Err(BackupError::Mismatch { reason }.into());
    }
    let mut distinct: Vec<&ShareFile> = Vec::new();
    for s in shares {
        if let Some(other) = distinct.iter().find(|d| d.index == s.index) {
            let reason = format!(
                "{} and {} are both share {}{}",
                other.name,
                s.name,
                s.index,
                if *other.value == *s.value {
                    " (the same share twice)"
                } else {
                    ""
                }
            );
            return Err(BackupError::Mismatch { reason }.into());
        }
        distinct.push(s);
    }
    let need = usize::from(first.threshold);
    if distinct.len() < need {
        return Err(BackupError::NotEnoughShares {
            have: distinct.len(),
            need,
            given: distinct
                .iter()
                .map(|s| format!("share {} of {}", s.index, s.total))
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    }
    let parts: Vec<shamir::Share> = distinct
        .iter()
        .map(|s| shamir::Share {
            index: s.index,
            value: s.value.clone(),
        })
        .collect();
    let secret = shamir::combine(&parts).map_err(|e| {
        KeystoreError::from(BackupError::Mismatch {
            reason: e.to_string(),
        })
    })?;
    let key: Zeroizing<[u8; 32]> = Zeroizing::new(
        secret[..]
            .try_into()
            .map_err(|_| corrupt("shares", "the combined key is not 32 bytes"))?,
    );
    let env = first.envelope.clone();
    match env.open_with_key(&key, "the combined shares")? {
        Some(archive) => Ok((env, archive)),
        None => Err(BackupError::SharesDoNotCombine {
            fingerprint: env.fingerprint(),
        }
        .into()),
    }
}
