//! `vouch pin-manifests`: pin the images of Kubernetes manifests to their signed digests.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;
use vouch::manifests::{self, ImageOccurrence, ManifestError};
use vouch::reference::Reference;
use vouch::remote::Gun;
use vouch::trust::{images, RepoState};

use super::args::TrustArgs;
use super::output::print_json;
use super::{usage, CliError, CliResult, Context};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Print the pinned manifests on stdout.
    Print,
    /// Rewrite the files in place.
    Write,
    /// Change nothing; fail when an image is not pinned to a signed digest.
    Check,
}

impl Mode {
    pub fn new(write: bool, check: bool) -> Mode {
        match (write, check) {
            (true, _) => Mode::Write,
            (_, true) => Mode::Check,
            _ => Mode::Print,
        }
    }
}

/// One manifest text and where it came from.
struct Input {
    /// As named in messages: the path, or `-` for stdin.
    label: String,
    path: Option<PathBuf>,
    text: String,
}

/// An image that cannot be pinned (or, with --check, is not).
struct Failure {
    at: String,
    image: String,
    reason: String,
}

pub fn pin_manifests(ctx: &Context, paths: &[PathBuf], mode: Mode, trust: &TrustArgs) -> CliResult {
    let inputs = read_inputs(paths, mode)?;
    let mut found: Vec<Vec<(ImageOccurrence, Reference)>> = Vec::new();
    for input in &inputs {
        let occ = manifests::find_images(&input.text)
            .map_err(|e| CliError::from(e).with_context(&input.label))?;
        let mut refs = Vec::new();
        for o in occ {
            let r = Reference::parse(&o.image)
                .map_err(|e| usage(format!("{}:{}: {}: {e}", input.label, o.line, o.pointer)))?;
            refs.push((o, r));
        }
        found.push(refs);
    }

    // Each repository is read once, however many images name it. A repository that
    // cannot be read fails each of its images with the same message.
    let mut states: BTreeMap<String, Result<RepoState, String>> = BTreeMap::new();
    let mut load_errors: Vec<CliError> = Vec::new();
    for (_, r) in found.iter().flatten() {
        let gun = r.gun();
        if states.contains_key(&gun) {
            continue;
        }
        let state = Gun::parse(&gun)
            .map_err(CliError::from)
            .and_then(|g| super::state::load_state(ctx, &g, trust))
            .map_err(|e| {
                let msg = e.message();
                load_errors.push(e);
                msg
            });
        states.insert(gun, state);
    }

    let total: usize = found.iter().map(Vec::len).sum();
    let mut failures: Vec<Failure> = Vec::new();
    let mut report = Vec::new();
    let mut outputs: Vec<String> = Vec::new();
    let mut changed_files = 0;
    let mut changed_images = 0;
    for (input, refs) in inputs.iter().zip(&found) {
        let mut edits: Vec<(&ImageOccurrence, String)> = Vec::new();
        for (o, r) in refs {
            let at = format!("{}:{}", input.label, o.line);
            let verdict = match &states[&r.gun()] {
                Ok(state) => images::check_image(state, r).map_err(|e| CliError::from(e).message()),
                Err(msg) => Err(msg.clone()),
            };
            match verdict {
                Err(reason) => {
                    report.push(json!({"file": input.label, "line": o.line, "pointer": o.pointer,
                        "object": o.object, "image": o.image, "status": "not-trusted", "reason": reason}));
                    failures.push(Failure {
                        at,
                        image: o.image.clone(),
                        reason,
                    });
                }
                Ok(v) => {
                    let pinned = images::pinned_value(&o.image, r, &v);
                    let status = if v.pinned { "pinned" } else { "unpinned" };
                    report.push(
                        json!({"file": input.label, "line": o.line, "pointer": o.pointer,
                        "object": o.object, "image": o.image, "status": status, "tag": v.tag,
                        "digest": v.digest, "pinned": pinned}),
                    );
                    if mode == Mode::Check && !v.pinned {
                        failures.push(Failure {
                            at,
                            image: o.image.clone(),
                            reason: format!(
                                "not pinned to a digest (the signed digest of {} is {})",
                                v.tag, v.digest
                            ),
                        });
                    }
                    if pinned != o.image {
                        edits.push((o, pinned));
                    }
                }
            }
        }
        let edits: Vec<(&ImageOccurrence, &str)> =
            edits.iter().map(|(o, s)| (*o, s.as_str())).collect();
        if !edits.is_empty() {
            changed_files += 1;
            changed_images += edits.len();
        }
        let text = manifests::splice(&input.text, &edits)
            .map_err(|e| CliError::from(e).with_context(&input.label))?;
        outputs.push(text);
    }

    if !failures.is_empty() {
        for f in &failures {
            errln!("vouch: {}: {}: {}", f.at, f.image, f.reason);
        }
        if ctx.json() {
            print_json(&json!({"trusted": false, "images": report}));
        }
        // A repository that could not be read at all (remote down, not pinned in the trust
        // lock…) decides the exit code; otherwise: not trusted.
        if let Some(e) = load_errors
            .into_iter()
            .find(|e| e.exit_code() != vouch::ExitCode::NotTrusted)
        {
            return Err(e);
        }
        return Err(ManifestError::NotPinned {
            count: failures.len(),
            total,
        }
        .into());
    }

    match mode {
        Mode::Print if ctx.json() => {
            // The pinned manifests as text inside the answer, one entry per input.
            let files: Vec<serde_json::Value> = inputs
                .iter()
                .zip(&outputs)
                .map(|(input, text)| json!({"file": input.label, "text": text}))
                .collect();
            print_json(&json!({"trusted": true, "images": report, "manifests": files}));
        }
        Mode::Print => {
            let several = inputs.len() > 1;
            let mut out = String::new();
            for (i, (input, text)) in inputs.iter().zip(&outputs).enumerate() {
                if several {
                    if i > 0 {
                        out.push_str("---\n");
                    }
                    out.push_str(&format!("# file: {}\n", input.label));
                }
                out.push_str(text);
                if several && !text.is_empty() && !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(out.as_bytes())
                .and_then(|_| stdout.flush())
                .map_err(|e| usage(format!("cannot write to stdout: {e}")))?;
        }
        Mode::Write => {
            for (input, text) in inputs.iter().zip(&outputs) {
                if let Some(p) = &input.path {
                    if *text != input.text {
                        manifests::write_in_place(p, text.as_bytes())?;
                    }
                }
            }
            if ctx.json() {
                print_json(&json!({"trusted": true, "images": report}));
            }
            ctx.note(format!(
                "Pinned {changed_images} image(s) in {changed_files} file(s); {total} image(s) in {} file(s) are signed",
                inputs.len()
            ));
        }
        Mode::Check => {
            if ctx.json() {
                print_json(&json!({"trusted": true, "images": report}));
            }
            ctx.note(format!(
                "All {total} image(s) in {} file(s) are pinned to signed digests",
                inputs.len()
            ));
        }
    }
    Ok(())
}

/// The manifests named: files, every *.yaml/*.yml under a directory (sorted), `-` for stdin.
fn read_inputs(paths: &[PathBuf], mode: Mode) -> CliResult<Vec<Input>> {
    let mut inputs = Vec::new();
    let mut stdin_read = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if mode == Mode::Write {
                return Err(usage(
                    "--write rewrites files; stdin (-) cannot be rewritten: drop --write to print the pinned manifests",
                ));
            }
            if stdin_read {
                return Err(usage("stdin (-) is named twice"));
            }
            stdin_read = true;
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
            inputs.push(Input {
                label: "-".into(),
                path: None,
                text: utf8(bytes, "-")?,
            });
            continue;
        }
        let meta =
            std::fs::metadata(p).map_err(|e| usage(format!("cannot read {}: {e}", p.display())))?;
        let files = if meta.is_dir() {
            let mut files = Vec::new();
            yaml_files(p, &mut files)?;
            files.sort();
            if files.is_empty() {
                return Err(usage(format!(
                    "no *.yaml or *.yml file under {}",
                    p.display()
                )));
            }
            files
        } else {
            vec![p.clone()]
        };
        for f in files {
            let bytes = std::fs::read(&f)
                .map_err(|e| usage(format!("cannot read {}: {e}", f.display())))?;
            let label = f.display().to_string();
            inputs.push(Input {
                text: utf8(bytes, &label)?,
                label,
                path: Some(f),
            });
        }
    }
    Ok(inputs)
}

fn utf8(bytes: Vec<u8>, label: &str) -> CliResult<String> {
    String::from_utf8(bytes).map_err(|_| usage(format!("{label}: not UTF-8 text")))
}

/// Every *.yaml/*.yml file below `dir`; symlinked directories are not followed.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) -> CliResult {
    let rd =
        std::fs::read_dir(dir).map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?;
    for entry in rd {
        let entry = entry.map_err(|e| usage(format!("cannot read {}: {e}", dir.display())))?;
        let path = entry.path();
        let ft = entry
            .file_type()
            .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
        if ft.is_dir() {
            yaml_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "yaml" || x == "yml") && path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}
