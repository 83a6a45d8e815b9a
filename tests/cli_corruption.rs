//! Every file of a trust dir, corrupted every way (emptied, cut in half, replaced by
//! garbage, one byte changed, replaced by a directory): no command panics, a command that
//! fails names the file, `vouch doctor` finds it, and the documented way out (`doctor
//! --fix`, `reset --all`, `delete` of the local copy, then a read with consent) leaves a
//! repository that verifies and signs again.

mod support;

use std::path::{Path, PathBuf};

use support::{ok, run, vouch};

const GUN: &str = "example.com/corrupt/app";

fn pair(tag: &str, n: u32) -> String {
    format!("{GUN}:{tag}=sha256:{n:064x}:1")
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Empty,
    Half,
    Garbage,
    Flip,
    Directory,
}

const KINDS: [Kind; 5] = [
    Kind::Empty,
    Kind::Half,
    Kind::Garbage,
    Kind::Flip,
    Kind::Directory,
];

fn corrupt(path: &Path, kind: Kind) {
    let bytes = std::fs::read(path).unwrap();
    match kind {
        Kind::Empty => std::fs::write(path, b"").unwrap(),
        Kind::Half => std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap(),
        Kind::Garbage => {
            let junk: Vec<u8> = (0..300u32).map(|i| (i * 7919 % 251) as u8).collect();
            std::fs::write(path, junk).unwrap()
        }
        Kind::Flip => {
            let mut b = bytes;
            let i = b.len() / 2;
            b[i] ^= 0x01;
            std::fs::write(path, b).unwrap()
        }
        Kind::Directory => {
            std::fs::remove_file(path).unwrap();
            std::fs::create_dir(path).unwrap();
            std::fs::write(path.join("inside"), b"x").unwrap();
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// The trust dir's own files (not the static repository kept inside it by default, not
/// lock files), relative to it.
fn trust_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        if rel.starts_with("repository") || rel.starts_with("locks") {
            continue;
        }
        if p.is_dir() {
            trust_files(root, &p, out);
        } else if !rel.to_string_lossy().contains("lock") {
            out.push(rel);
        }
    }
}

#[test]
fn every_trust_dir_file_corrupted_every_way_is_named_found_and_recovered_from() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    ok(vouch(&base), &["init", GUN]);
    ok(vouch(&base), &["sign", &pair("v1", 1)]);
    ok(vouch(&base), &["sign", "--stage", &pair("v2", 2)]);
    let mut files = Vec::new();
    trust_files(&base, &base, &mut files);
    files.sort();
    let has = |part: &str| files.iter().any(|f| f.to_string_lossy().contains(part));
    for part in [
        "private/",
        "metadata/root.json",
        "metadata/targets.json",
        "metadata/snapshot.json",
        "metadata/timestamp.json",
        "@vouch/anchor.json",
        "@vouch/roots/1.json",
        "changelist/",
    ] {
        assert!(has(part), "no {part} among {files:?}");
    }

    for (i, file) in files.iter().enumerate() {
        let is_key = file.starts_with("private");
        for (j, kind) in KINDS.into_iter().enumerate() {
            let case = format!("{} {kind:?}", file.display());
            let work = tmp.path().join(format!("w{i}-{j}"));
            copy_tree(&base, &work);
            for d in [work.clone(), work.join("private")] {
                std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700))
                    .unwrap();
            }
            corrupt(&work.join(file), kind);
            let name = file.file_name().unwrap().to_string_lossy().into_owned();

            // doctor finds it (exit 1: a problem; a directory where the anchor record
            // belongs stops it with exit 4, naming the file).
            // A byte changed inside a key's encrypted body shows only to the passphrase
            // (the encryption carries no checksum doctor could read without it); the
            // commands that open the key name it.
            let hidden = is_key && matches!(kind, Kind::Flip);
            let doctor = run(vouch(&work), &["doctor"]);
            assert!(
                matches!(doctor.code, 1 | 4) || hidden,
                "{case}: doctor exit {}: {}",
                doctor.code,
                doctor.stdout
            );
            assert!(
                hidden || doctor.stdout.contains(&name) || doctor.stderr.contains(&name),
                "{case}: doctor does not name it:\n{}{}",
                doctor.stdout,
                doctor.stderr
            );

            for args in [
                vec!["status", GUN],
                vec!["list", GUN],
                vec!["verify", &format!("{GUN}:v1")],
                vec!["sign", &pair("v3", 3)],
                vec!["key", "list"],
            ] {
                let out = run(vouch(&work), &args);
                assert!(
                    !out.stderr.contains("panicked"),
                    "{case} {args:?}: {}",
                    out.stderr
                );
                assert!(
                    (0..=4).contains(&out.code),
                    "{case} {args:?}: exit {}: {}",
                    out.code,
                    out.stderr
                );
                // A failure names the file; a directory in a key file's place is a key
                // that is not there (said as such).
                if out.code != 0 && !(is_key && matches!(kind, Kind::Directory)) {
                    assert!(
                        out.stderr.contains(&name),
                        "{case} {args:?}: exit {} without naming the file: {}",
                        out.code,
                        out.stderr
                    );
                }
            }

            // The way out. A key file is not recovered here (its backup is); everything
            // else is: doctor --fix, reset, drop the local copy, read again with consent.
            if is_key {
                continue;
            }
            run(vouch(&work), &["doctor", "--fix"]);
            ok(vouch(&work), &["reset", GUN, "--all"]);
            ok(vouch(&work), &["delete", GUN]);
            let out = ok(vouch(&work), &["--tofu", "verify", &format!("{GUN}:v1")]);
            assert!(out.stdout.contains(&format!("{:064x}", 1)), "{case}");
            ok(vouch(&work), &["sign", &pair("v4", 4)]);
            let doctor = run(vouch(&work), &["doctor"]);
            assert_eq!(doctor.code, 0, "{case}: after recovery: {}", doctor.stdout);
            std::fs::remove_dir_all(&work).unwrap();
        }
    }
}
