//! A small tmpfs, mounted for one test (as root) and unmounted when dropped: full-disk and
//! read-only file system tests.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

/// A small tmpfs mounted for one test and unmounted when dropped.
pub struct SmallFs {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl SmallFs {
    /// `None` (and a note on stderr) where this user may not mount file systems.
    pub fn mount(size_kib: u32) -> Option<SmallFs> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("fs");
        std::fs::create_dir(&dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_kib}k,mode=0755"),
                "tmpfs",
            ])
            .arg(&dir)
            .output()
            .expect("run mount");
        if !out.status.success() {
            // Not root, or a container without CAP_SYS_ADMIN: nothing to test with here.
            let why = String::from_utf8_lossy(&out.stderr);
            eprintln!("SKIPPED: cannot mount a tmpfs (needs root with CAP_SYS_ADMIN): {why}");
            return None;
        }
        Some(SmallFs { dir, _tmp: tmp })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Fill the file system to the last byte.
    pub fn fill(&self) {
        let mut f = std::fs::File::create(self.path(".fill")).unwrap();
        let chunk = vec![0u8; 4096];
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the test file system: {e}"),
            }
        }
        assert!(
            std::fs::write(self.path(".probe"), b"x").is_err(),
            "the file system still has room"
        );
    }

    /// Fill the file system, then give back `pages` pages (4 KiB each): the next writes
    /// find exactly that much room.
    pub fn leave_free(&self, pages: u64) {
        self.fill();
        let _ = std::fs::remove_file(self.path(".probe"));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(self.path(".fill"))
            .unwrap();
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(pages * 4096)).unwrap();
    }

    pub fn free(&self) {
        std::fs::remove_file(self.path(".fill")).unwrap();
    }

    pub fn remount(&self, mode: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,{mode}")])
            .arg(&self.dir)
            .status()
            .unwrap();
        assert!(st.success(), "remount {mode}");
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}
