//! (Included by test files as `#[path = "support/softhsm.rs"] mod softhsm;` next to
//! `mod support;`.)
//!
//! A SoftHSM2 instance of its own: a temp dir holding `softhsm2.conf` and the token
//! directory, so tests never touch the machine's tokens (or each other's).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `softhsm2` package installs the PKCS#11 module.
pub const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const PIN: &str = "123456";
pub const SO_PIN: &str = "65432100";

pub struct SoftHsm {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
}

impl SoftHsm {
    /// A fresh, empty token directory with its own config file.
    pub fn new() -> SoftHsm {
        let util = crate::support::require_binary("softhsm2-util");
        assert!(
            Path::new(MODULE).is_file(),
            "{MODULE} is missing; install the Debian package softhsm2 (`make test-deps`)"
        );
        let _ = util;
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        SoftHsm { dir, conf }
    }

    /// `softhsm2-util --init-token --free --label LABEL` with the test PINs.
    pub fn init_token(&self, label: &str) {
        let out = Command::new(crate::support::require_binary("softhsm2-util"))
            .env("SOFTHSM2_CONF", &self.conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--pin",
                PIN,
                "--so-pin",
                SO_PIN,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "softhsm2-util --init-token: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Point `cmd` at this SoftHSM (config, module, PIN).
    pub fn env(&self, cmd: &mut assert_cmd::Command) {
        cmd.env("SOFTHSM2_CONF", &self.conf)
            .env("VOUCH_PKCS11_MODULE", MODULE)
            .env("VOUCH_PKCS11_PIN", PIN)
            .env_remove("VOUCH_PKCS11_PIN_FILE");
    }

    /// Files in the token directory with their bytes (the token's state).
    pub fn state(&self) -> Vec<(PathBuf, Vec<u8>)> {
        crate::support::snapshot_tree(&self.dir.path().join("tokens"))
    }
}
