//! File-system primitives of the key store: the trust-dir lock, atomic writes, modes.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

use super::KeystoreError;

/// Key files larger than this are not key files.
pub(crate) const MAX_KEY_FILE: u64 = 1 << 20;

/// The lock file in the trust directory; writers hold an exclusive lock on it.
pub const LOCK_FILE: &str = ".vouch.lock";

/// An exclusive lock on `<trust_dir>/.vouch.lock`, released on drop.
pub(crate) struct DirLock {
    _file: File,
}

/// Block until this process holds the trust directory's write lock.
pub(crate) fn lock(trust_dir: &Path) -> Result<DirLock, KeystoreError> {
    let path = trust_dir.join(LOCK_FILE);
    let file = lock_file(&path).map_err(|e| KeystoreError::io("lock", &path, e))?;
    Ok(DirLock { _file: file })
}

/// Open `path` (0600, created if missing) and hold an exclusive lock on it until the file
/// is dropped. When another process holds it, say which one and wait: a command never
/// hangs without a word. The holder's pid is kept in the file for the next waiter.
pub(crate) fn lock_file(path: &Path) -> std::io::Result<File> {
    lock_file_with_mode(path, 0o600)
}

/// [`lock_file`], creating the file with `mode` (less the umask): a static repository's
/// lock is shared by everyone who may publish to it.
pub(crate) fn lock_file_with_mode(path: &Path, mode: u32) -> std::io::Result<File> {
    use std::os::unix::fs::FileExt as _;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(mode)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            eprintln!(
                "vouch: waiting for {} held by {}; it is released when that command ends",
                path.display(),
                lock_holder(&file)
            );
            file.lock()?;
        }
        Err(fs::TryLockError::Error(e)) => return Err(e),
    }
    // Fixed width, so it overwrites the last holder's note without truncating the file.
    // Only a courtesy to the next waiter: a failure to write it is not an error.
    let note = format!("{:>10}\n", std::process::id());
    let _ = file.write_all_at(note.as_bytes(), 0);
    Ok(file)
}

/// "pid N (its command line)" from a lock file's note, as far as it can be told.
fn lock_holder(file: &File) -> String {
    use std::os::unix::fs::FileExt as _;
    let mut buf = [0u8; 32];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let Some(pid) = std::str::from_utf8(&buf[..n])
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return "another process".into();
    };
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmd) if !cmd.is_empty() => {
            let words: Vec<String> = cmd
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let mut line = words.join(" ");
            if line.chars().count() > 120 {
                line = line.chars().take(117).collect::<String>() + "...";
            }
            format!("pid {pid} ({line})")
        }
        _ => format!("pid {pid}"),
    }
}

/// Create `dir` (and parents) if missing; set it to 0700.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), KeystoreError> {
    if !dir.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| KeystoreError::io("create directory", dir, e))?;
    }
    set_mode(dir, 0o700)
}

pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), KeystoreError> {
    let current = fs::metadata(path).map_err(|e| KeystoreError::io("stat", path, e))?;
    if current.permissions().mode() & 0o7777 != mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(|e| KeystoreError::io("chmod", path, e))?;
    }
    Ok(())
}

/// Write `bytes` to `path` atomically: a 0600 temp file in the same (0700) directory,
/// fsync, rename over `path`, fsync the directory. On error the temp file is removed and
/// `path` is untouched.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    replace_file(path, bytes)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// [`write_atomic`] for several files of ONE directory: each file is written, synced and
/// renamed into place as there, and the directory is synced once at the end (one fsync
/// instead of one per file; a crash before it may leave some renames undone, each file
/// whole: old or new).
pub(crate) fn write_atomic_all(dir: &Path, files: &[(&Path, &[u8])]) -> Result<(), KeystoreError> {
    for (path, bytes) in files {
        if path.parent() != Some(dir) {
            return Err(KeystoreError::io(
                "write",
                *path,
                std::io::Error::other("not in the directory being written"),
            ));
        }
        replace_file(path, bytes)?;
    }
    sync_dir(dir)
}

/// Temp file, fsync, rename over `path`; the directory is not synced.
fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), KeystoreError> {
    replace_file_with(path, bytes, true)
}

fn replace_file_with(path: &Path, bytes: &[u8], durable: bool) -> Result<(), KeystoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("key");
    let tmp = dir.join(format!(
        ".{name}.{TEMP_MARK}{}-{:016x}",
        std::process::id(),
        OsRng.next_u64()
    ));
    let result = (|| {
        set_mode(dir, 0o700)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| KeystoreError::io("create", path, e))?;
        f.write_all(bytes)
            .map_err(|e| KeystoreError::io("write", path, e))?;
        if durable {
            f.sync_all()
                .map_err(|e| KeystoreError::io("sync", path, e))?;
        }
        drop(f);
        set_mode(&tmp, 0o600)?;
        fs::rename(&tmp, path).map_err(|e| KeystoreError::io("rename into place", path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What temp-file names carry before the writer's pid and a random part:
/// `.<name>.tmp-<pid>-<16 hex>` (older versions: `.<name>.tmp-<16 hex>`).
const TEMP_MARK: &str = "tmp-";

/// A temp file whose writer may still be alive is left alone for this long.
pub(crate) const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The writer's pid of a temp file named by [`replace_file_with`] (`Some(None)` for the
/// older names without one); `None` when `name` is not such a temp file.
fn temp_owner(name: &str) -> Option<Option<u32>> {
    let rest = name.strip_prefix('.')?;
    let (target, tail) = rest.rsplit_once(&format!(".{TEMP_MARK}"))?;
    if target.is_empty() {
        return None;
    }
    let (pid, random) = match tail.split_once('-') {
        Some((pid, random)) => (Some(pid), random),
        None => (None, tail),
    };
    if random.len() != 16 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match pid {
        None => Some(None),
        Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Some(p.parse().ok()?))
        }
        Some(_) => None,
    }
}

/// Whether process `pid` is running (or exists and belongs to someone else).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Remove the temp files [`write_atomic`] and its kin left under `root` (recursively, not
/// following symlinks) when a command was killed between writing and renaming them: only
/// files with vouch's temp names, and only when their writer is gone (its pid is not
/// running) or, for names without a pid, when they are older than [`STALE_TEMP_AGE`].
/// Best effort (a read-only trust dir is fine): returns how many were removed.
pub(crate) fn remove_stale_temps(root: &Path) -> usize {
    stale_temps(root)
        .iter()
        .filter(|p| fs::remove_file(p).is_ok())
        .count()
}

/// The temp files [`remove_stale_temps`] removes, without removing them.
pub(crate) fn stale_temps(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = files_under(root)
        .into_iter()
        .filter(|entry| {
            let Some(owner) = temp_owner(&entry.file_name().to_string_lossy()) else {
                return false;
            };
            // A writer renames its temp file within moments: one this old is abandoned
            // whoever wrote it (a pid may have been reused).
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMP_AGE);
            let writer_gone =
                owner.is_some_and(|pid| pid != std::process::id() && !process_alive(pid));
            old || writer_gone
        })
        .map(|entry| entry.path())
        .collect();
    out.sort();
    out
}

/// Every regular file under `root`, at most 32 directories deep; best effort: a directory
/// that cannot be read is skipped.
pub(crate) fn files_under(root: &Path) -> Vec<fs::DirEntry> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() && depth < 32 {
                stack.push((entry.path(), depth + 1));
            } else if ft.is_file() {
                out.push(entry);
            }
        }
    }
    out
}

/// Who holds the lock on `path` ("pid N (command)"), when a live process holds it;
/// `None` when nobody does or the file is missing. Read-only: the file is not created and
/// no note is written (a shared lock is tried and released at once).
pub(crate) fn lock_held_by(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    match file.try_lock_shared() {
        Ok(()) => None,
        Err(fs::TryLockError::WouldBlock) => Some(lock_holder(&file)),
        Err(fs::TryLockError::Error(_)) => None,
    }
}

/// [`lock_file`] without waiting: `Ok(None)` when another process holds the lock.
pub(crate) fn try_lock_file(path: &Path) -> std::io::Result<Option<File>> {
    use std::os::unix::fs::FileExt as _;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => return Ok(None),
        Err(fs::TryLockError::Error(e)) => return Err(e),
    }
    let note = format!("{:>10}\n", std::process::id());
    let _ = file.write_all_at(note.as_bytes(), 0);
    Ok(Some(file))
}

/// Remove `path` and make the removal durable.
pub(crate) fn remove_durable(path: &Path) -> Result<(), KeystoreError> {
    fs::remove_file(path).map_err(|e| KeystoreError::io("remove", path, e))?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

fn sync_dir(dir: &Path) -> Result<(), KeystoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| KeystoreError::io("sync directory", dir, e))
}

/// Read a key file (at most [`MAX_KEY_FILE`] bytes) into a wiping buffer.
pub(crate) fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeystoreError> {
    let f = File::open(path).map_err(|e| KeystoreError::io("read", path, e))?;
    let mut buf = Zeroizing::new(Vec::new());
    f.take(MAX_KEY_FILE + 1)
        .read_to_end(&mut buf)
        .map_err(|e| KeystoreError::io("read", path, e))?;
    if buf.len() as u64 > MAX_KEY_FILE {
        return Err(KeystoreError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("larger than {MAX_KEY_FILE} bytes"),
        });
    }
    Ok(buf)
}

/// Walk `root` for regular `*.key` files, not following symlinks, skipping dot-files.
pub(crate) fn walk_key_files(root: &Path) -> Result<Vec<PathBuf>, KeystoreError> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0u32)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth > 0 => continue,
            Err(e) => return Err(KeystoreError::io("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| KeystoreError::io("list", &dir, e))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') {
                continue;
            }
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() && name.ends_with(".key") {
                // Something made a directory where a key file belongs: listed, so that
                // reading it fails and names it, rather than the key seeming absent.
                out.push(path);
            } else if ft.is_dir() && depth < 32 {
                stack.push((path, depth + 1));
            } else if ft.is_file() && name.ends_with(".key") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_names_are_recognised_with_and_without_a_pid() {
        assert_eq!(
            temp_owner(".abc.key.tmp-12-0123456789abcdef"),
            Some(Some(12))
        );
        assert_eq!(temp_owner(".abc.key.tmp-0123456789abcdef"), Some(None));
        assert_eq!(temp_owner("abc.key.tmp-0123456789abcdef"), None);
        assert_eq!(temp_owner(".abc.key"), None);
        assert_eq!(temp_owner(".abc.key.tmp-12-0123"), None);
        assert_eq!(temp_owner(".abc.key.tmp-x1-0123456789abcdef"), None);
    }

    #[test]
    fn stale_temps_go_live_writers_and_other_files_stay() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub");
        fs::create_dir(&sub).unwrap();
        // pid_max on Linux is at most 2^22: this pid is never running.
        let dead = sub.join(".k.key.tmp-99999999-0123456789abcdef");
        let mine = d.path().join(format!(
            ".k.key.tmp-{}-0123456789abcdef",
            std::process::id()
        ));
        let fresh_old_style = d.path().join(".k.key.tmp-0123456789abcdef");
        let old_style = d.path().join(".j.key.tmp-fedcba9876543210");
        let other = d.path().join(".notes.tmp");
        for f in [&dead, &mine, &fresh_old_style, &old_style, &other] {
            fs::write(f, b"x").unwrap();
        }
        let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        File::options()
            .write(true)
            .open(&old_style)
            .unwrap()
            .set_modified(hour_ago)
            .unwrap();
        assert_eq!(remove_stale_temps(d.path()), 2);
        assert!(!dead.exists() && !old_style.exists());
        assert!(mine.exists() && fresh_old_style.exists() && other.exists());
    }
}
