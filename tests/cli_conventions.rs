//! The conventions a user of `docker trust`, `notary` and other modern CLIs expects: the
//! server named in the environment (VOUCH_SERVER, DOCKER_CONTENT_TRUST_SERVER) and never
//! a silent fallback, config typos refused, `config show`, completions and man pages, JSON
//! error objects, usage errors in vouch's own form. Against the real notary-server and
//! the real `notary` CLI where a server is involved.

mod support;

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{fails, list_rows, ok, Notary, NotaryServer};

fn digest(seed: &str) -> String {
    hex::encode(Sha256::digest(format!("manifest {seed}").as_bytes()))
}

fn tag_pair(gun: &str, tag: &str, size: u64) -> String {
    format!("{gun}:{tag}=sha256:{}:{size}", digest(tag))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s:?}"))
}

/// `vouch` with a trust dir and the test passphrases, nothing from the environment that
/// names a server or credentials.
fn vouch(trust: &Path) -> assert_cmd::Command {
    support::vouch(trust)
}

// ---------------------------------------------------------------------------------------
// 1. The server from the environment

#[test]
fn docker_content_trust_server_is_where_init_and_sign_publish() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/env/app";
    let with_env = || {
        let mut c = vouch(&trust);
        c.env("DOCKER_CONTENT_TRUST_SERVER", &server.url);
        c
    };
    let init = ok(with_env(), &["init", gun]);
    assert!(
        !init.stderr.contains("static repository"),
        "{}",
        init.stderr
    );
    ok(with_env(), &["sign", &tag_pair(gun, "v1", 401)]);
    assert!(
        !trust.join("repository").exists(),
        "nothing may go to the default static repository"
    );
    // The real notary CLI reads it back from the server.
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    assert_eq!(
        list_rows(&n.run(&["list", gun])),
        vec![("v1".to_owned(), digest("v1"), 401, "targets".to_owned())]
    );

    // VOUCH_SERVER wins over DOCKER_CONTENT_TRUST_SERVER, --server over both.
    let mut c = vouch(&trust);
    c.env("VOUCH_SERVER", &server.url)
        .env("DOCKER_CONTENT_TRUST_SERVER", "not a url");
    ok(c, &["sign", &tag_pair(gun, "v2", 402)]);
    let mut c = vouch(&trust);
    c.env("VOUCH_SERVER", "notary.example.com:4443")
        .env("DOCKER_CONTENT_TRUST_SERVER", "not a url");
    ok(c, &["-s", &server.url, "sign", &tag_pair(gun, "v3", 403)]);
    let names: Vec<String> = list_rows(&n.run(&["list", gun]))
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, ["v1", "v2", "v3"]);
}

#[test]
fn an_unusable_server_from_the_environment_is_an_error_naming_the_variable() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    for (var, value) in [
        ("DOCKER_CONTENT_TRUST_SERVER", "notary.example.com:4443"),
        ("VOUCH_SERVER", "ftp://notary.example.com"),
    ] {
        let mut c = vouch(&trust);
        c.env(var, value);
        let out = fails(c, &["init", "example.com/env/bad"], 2);
        assert!(
            out.stderr.starts_with(&format!("vouch: error: {var}: ")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(value), "{}", out.stderr);
        assert!(!trust.join("repository").exists());
    }
}

#[test]
fn a_config_remote_server_without_a_url_is_an_error_not_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    std::fs::create_dir_all(&trust).unwrap();
    let cfg = trust.join("config.json");
    std::fs::write(&cfg, r#"{"remote_server": {"url": ""}}"#).unwrap();
    let out = fails(vouch(&trust), &["init", "example.com/cfg/app"], 2);
    assert!(
        out.stderr.contains(&cfg.display().to_string())
            && out.stderr.contains("remote_server has no url"),
        "{}",
        out.stderr
    );
    assert!(!trust.join("repository").exists());

    // A config file that names no server: the default is used, and said so.
    std::fs::write(&cfg, r#"{"trust_pinning": {}}"#).unwrap();
    let out = ok(vouch(&trust), &["init", "example.com/cfg/app"]);
    assert!(
        out.stderr
            .contains(&format!("({} names no server)", cfg.display())),
        "{}",
        out.stderr
    );
    let _ = s(&cfg);
}

// ---------------------------------------------------------------------------------------
// 2. Config typos refused; `config show`

#[test]
fn config_typos_are_refused_with_the_key_named_and_notary_fields_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    std::fs::create_dir_all(&trust).unwrap();
    let cfg = trust.join("config.json");
    for (text, key) in [
        (
            r#"{"remote_server": {"ulr": "https://notary.example.com"}}"#,
            "ulr",
        ),
        (
            r#"{"remote_sever": {"url": "https://notary.example.com"}}"#,
            "remote_sever",
        ),
        (
            r#"{"trust_pinning": {"disable_tofuu": true}}"#,
            "disable_tofuu",
        ),
    ] {
        std::fs::write(&cfg, text).unwrap();
        for args in [
            vec!["init", "example.com/typo/app"],
            vec!["verify", "example.com/typo/app:1", "--offline"],
            vec!["config", "show"],
        ] {
            let out = fails(vouch(&trust), &args, 2);
            assert!(
                out.stderr.starts_with("vouch: error: ")
                    && out.stderr.contains(&cfg.display().to_string())
                    && out.stderr.contains(&format!("unknown key {key:?}")),
                "{args:?} with {text}: {}",
                out.stderr
            );
        }
        assert!(!trust.join("repository").exists());
    }
    // Every field of notary's client config.json is accepted.
    std::fs::write(
        &cfg,
        r#"{"trust_dir": "~/.notary",
            "remote_server": {"url": "https://notary.example.com:4443", "root_ca": "ca.crt",
                              "tls_client_cert": "c.crt", "tls_client_key": "c.key",
                              "skipTLSVerify": false},
            "trust_pinning": {"certs": {"example.com/*": ["abc"]}, "ca": {}, "disable_tofu": false}}"#,
    )
    .unwrap();
    ok(vouch(&trust), &["config", "show"]);
}

#[test]
fn config_show_names_where_each_setting_came_from() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    std::fs::create_dir_all(&trust).unwrap();
    let show = |c: assert_cmd::Command, extra: &[&str]| {
        let mut args = vec!["config", "show", "--output", "json"];
        args.extend_from_slice(extra);
        json(&ok(c, &args).stdout)["settings"].clone()
    };
    // Nothing set: defaults (the trust dir is the flag the test passes).
    let v = show(vouch(&trust), &[]);
    assert_eq!(v["trust_dir"]["source"], "--trust-dir");
    assert_eq!(v["trust_dir"]["value"], s(&trust));
    assert_eq!(v["server"]["source"], "default");
    assert_eq!(
        v["server"]["value"],
        format!("file://{}", trust.join("repository").display())
    );
    assert_eq!(v["max_root_size"]["value"], 1048576);
    assert_eq!(v["tofu"]["value"], false);
    assert_eq!(v["pkcs11_module"]["value"], serde_json::Value::Null);

    // A config file, then the environment over it, then the flag over both.
    let cfg = trust.join("config.json");
    std::fs::write(
        &cfg,
        r#"{"remote_server": {"url": "https://file.example.com", "root_ca": "ca.crt"},
            "remote_servers": {"example.com/team": {"url": "https://team.example.com"}},
            "max_root_size": "2M", "tofu": true, "pkcs11_module": "/usr/lib/softhsm/libsofthsm2.so"}"#,
    )
    .unwrap();
    let v = show(vouch(&trust), &[]);
    let from_file = format!("{} remote_server.url", cfg.display());
    assert_eq!(
        (
            v["server"]["value"].as_str(),
            v["server"]["source"].as_str()
        ),
        (Some("https://file.example.com"), Some(from_file.as_str()))
    );
    assert_eq!(v["tls_ca_cert"]["value"], s(&trust.join("ca.crt")));
    assert_eq!(v["max_root_size"]["value"], 2 << 20);
    assert_eq!(v["tofu"]["value"], true);
    assert_eq!(
        v["pkcs11_module"]["value"],
        "/usr/lib/softhsm/libsofthsm2.so"
    );
    assert_eq!(
        v["pkcs11_module"]["source"],
        format!("config file {}", cfg.display())
    );
    let v = show(vouch(&trust), &["example.com/team/app"]);
    assert_eq!(v["server"]["value"], "https://team.example.com");
    let mut c = vouch(&trust);
    c.env("DOCKER_CONTENT_TRUST_SERVER", "https://docker.example.com")
        .env("VOUCH_MAX_ROOT_SIZE", "3M");
    let v = show(c, &["example.com/team/app"]);
    assert_eq!(
        (
            v["server"]["value"].as_str(),
            v["server"]["source"].as_str()
        ),
        (
            Some("https://docker.example.com"),
            Some("DOCKER_CONTENT_TRUST_SERVER")
        )
    );
    assert_eq!(v["max_root_size"]["source"], "VOUCH_MAX_ROOT_SIZE");
    let mut c = vouch(&trust);
    c.env("VOUCH_SERVER", "https://vouch.example.com")
        .env("DOCKER_CONTENT_TRUST_SERVER", "https://docker.example.com");
    let v = show(c, &[]);
    assert_eq!(v["server"]["source"], "VOUCH_SERVER");
    let mut c = vouch(&trust);
    c.env("VOUCH_SERVER", "https://vouch.example.com");
    let v = show(
        c,
        &[
            "-s",
            "https://flag.example.com",
            "--tls-ca-cert",
            "/x/ca.pem",
        ],
    );
    assert_eq!(
        (
            v["server"]["value"].as_str(),
            v["server"]["source"].as_str()
        ),
        (Some("https://flag.example.com"), Some("--server"))
    );
    assert_eq!(v["tls_ca_cert"]["source"], "--tls-ca-cert");

    // Text: one row per setting, with its source.
    let out = ok(vouch(&trust), &["config", "show"]).stdout;
    let server_row = out.lines().find(|l| l.starts_with("server ")).unwrap();
    assert!(
        server_row.contains("https://file.example.com") && server_row.ends_with(&from_file),
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------
// 3. Completions, man pages, make install

fn vouch_bare() -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("vouch").unwrap();
    // Neither needs a trust dir or a home directory.
    c.env_remove("HOME").env_remove("VOUCH_TRUST_DIR");
    c
}

#[test]
fn bash_completion_is_valid_bash_and_every_shell_gets_a_script() {
    let bash = ok(vouch_bare(), &["completions", "bash"]).stdout;
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("vouch.bash");
    std::fs::write(&file, &bash).unwrap();
    let check = std::process::Command::new(support::require_binary("bash"))
        .arg("-n")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // The script completes vouch's commands and options.
    for word in ["verify", "sign-file", "--trust-dir", "completions"] {
        assert!(
            bash.contains(word),
            "{word} missing from the bash completion"
        );
    }
    // Sourced in a real bash, it registers the completion function for `vouch`.
    let sourced = std::process::Command::new(support::require_binary("bash"))
        .arg("-c")
        .arg(format!("source {} && complete -p vouch", s(&file)))
        .output()
        .unwrap();
    assert!(
        sourced.status.success() && String::from_utf8_lossy(&sourced.stdout).contains("vouch"),
        "{}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = ok(vouch_bare(), &["completions", shell]).stdout;
        assert!(out.contains("verify-file"), "{shell}: {out}");
    }
    fails(vouch_bare(), &["completions", "tcsh"], 2);
}

/// `man -l FILE` with no pager: (exit code, rendered text, warnings).
fn man_render(file: &Path) -> (i32, String, String) {
    let o = std::process::Command::new(support::require_binary("man"))
        .args(["--warnings", "-l"])
        .arg(file)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn man_pages_render_with_man() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, name, says) in [
        (vec!["man"], "vouch", "verify-file"),
        (vec!["man", "verify"], "vouch-verify", "--offline"),
        (
            vec!["man", "trust", "pin"],
            "vouch-trust-pin",
            "--root-key-id",
        ),
    ] {
        let page = ok(vouch_bare(), &args).stdout;
        assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{page}");
        let file = tmp.path().join(format!("{name}.1"));
        std::fs::write(&file, &page).unwrap();
        let (code, text, warnings) = man_render(&file);
        assert_eq!(code, 0, "{name}: {warnings}");
        assert!(warnings.trim().is_empty(), "{name}: {warnings}");
        assert!(
            text.contains("SYNOPSIS") && text.contains(says),
            "{name}: {text}"
        );
        assert!(text.contains(&format!("{name}(1)")), "{text}");
    }
    let out = fails(vouch_bare(), &["man", "no-such-command"], 2);
    assert!(out.stderr.starts_with("vouch: error: "), "{}", out.stderr);
}

#[test]
fn make_install_puts_binary_man_pages_and_completions_under_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("usr");
    let o = std::process::Command::new(support::require_binary("make"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-s", "install"])
        .arg(format!("PREFIX={}", prefix.display()))
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_vouch")))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "make install: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bin = prefix.join("bin/vouch");
    let installed = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&installed.stdout).starts_with("vouch "));
    for page in [
        "vouch.1",
        "vouch-sign.1",
        "vouch-verify.1",
        "vouch-trust-pin.1",
        "vouch-key-backup-verify.1",
    ] {
        let file = prefix.join("share/man/man1").join(page);
        let (code, text, warnings) = man_render(&file);
        assert!(code == 0 && text.contains("SYNOPSIS"), "{page}: {warnings}");
    }
    for (file, says) in [
        ("share/bash-completion/completions/vouch", "complete"),
        ("share/zsh/site-functions/_vouch", "#compdef vouch"),
        (
            "share/fish/vendor_completions.d/vouch.fish",
            "complete -c vouch",
        ),
    ] {
        let text = std::fs::read_to_string(prefix.join(file)).unwrap();
        assert!(text.contains(says), "{file}");
    }
}

// ---------------------------------------------------------------------------------------
// 4. JSON error objects

/// The error object `--output json` prints on stdout for a failure: checked against the
/// documented schema; returns its `error` member.
fn error_object(stdout: &str, exit_code: i32) -> Value {
    let v = json(stdout);
    assert_eq!(v["vouch_json"], 1, "{v}");
    let e = &v["error"];
    let obj = e
        .as_object()
        .unwrap_or_else(|| panic!("no error object: {v}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["causes", "exit_code", "hint", "kind", "message"],
        "{v}"
    );
    assert!(e["causes"].is_array(), "{v}");
    assert_eq!(e["exit_code"], exit_code, "{v}");
    let kind = e["kind"].as_str().unwrap();
    assert!(
        !kind.is_empty()
            && kind
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "kind {kind:?} is not snake_case"
    );
    assert!(!e["message"].as_str().unwrap().is_empty());
    assert!(e["hint"].is_null() || e["hint"].is_string(), "{v}");
    e.clone()
}

#[test]
fn json_failures_print_an_error_object_for_each_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/json/app";
    let down = format!("http://127.0.0.1:{}", support::free_port());
    let missing_key = "ab".repeat(32);
    let reference = format!("{gun}:v1");
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        // 1: not trusted (nothing cached to trust, offline).
        (
            vec!["verify", &reference, "--offline"],
            1,
            "trust_not_cached",
        ),
        // 2: bad input, from vouch and from the argument parser.
        (vec!["verify", "Not A Reference!"], 2, ""),
        (vec!["verify"], 2, "usage_missing_required_argument"),
        (
            vec!["sign", "--no-such-flag", "x"],
            2,
            "usage_unknown_argument",
        ),
        // 3: the server does not answer.
        (vec!["-s", &down, "--tofu", "list", gun], 3, ""),
        // 4: no such key in the key store.
        (vec!["key", "export", &missing_key], 4, ""),
    ];
    for (args, code, kind) in cases {
        for json_flag in [["--output", "json"], ["--output=json", ""]] {
            let mut all: Vec<&str> = json_flag
                .iter()
                .copied()
                .filter(|a| !a.is_empty())
                .collect();
            all.extend(&args);
            let out = fails(vouch(&trust), &all, code);
            let e = error_object(&out.stdout, code);
            if !kind.is_empty() {
                assert_eq!(e["kind"], kind, "{args:?}");
            }
            // stderr keeps the text form, with the same message.
            let msg = e["message"].as_str().unwrap();
            assert_eq!(
                out.stderr.lines().next(),
                Some(format!("vouch: error: {msg}").as_str()),
                "{args:?}"
            );
            if let Some(hint) = e["hint"].as_str() {
                assert!(out.stderr.contains(&format!("vouch: hint: {hint}")));
            }
        }
        // Without --output json, stdout holds nothing.
        let out = fails(vouch(&trust), &args, code);
        assert_eq!(out.stdout, "", "{args:?}");
    }
    // The same cause gives the same kind, whatever the data.
    let a = fails(
        vouch(&trust),
        &["--output", "json", "verify", "example.com/a:1", "--offline"],
        1,
    );
    let b = fails(
        vouch(&trust),
        &["--output", "json", "verify", "other.org/b/c:2", "--offline"],
        1,
    );
    assert_eq!(
        error_object(&a.stdout, 1)["kind"],
        error_object(&b.stdout, 1)["kind"]
    );
}

#[test]
fn a_json_answer_that_carries_a_failure_stays_one_document() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/json/expiry";
    ok(vouch(&trust), &["init", gun]);
    // Everything expires within 100 years: exit 1, and stdout is the answer alone.
    let out = fails(
        vouch(&trust),
        &["--output", "json", "expiry", gun, "--within", "36500d"],
        1,
    );
    let v = json(&out.stdout);
    assert!(v.get("error").is_none(), "{v}");
    assert!(out.stderr.contains("vouch: error: "), "{}", out.stderr);
}

// ---------------------------------------------------------------------------------------
// 6. Usage errors in vouch's own form

#[test]
fn usage_errors_look_like_every_other_error_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    for (args, says) in [
        (vec!["verify"], "<IMAGE>"),
        (vec!["verify", "a/b:1", "--no-such-flag"], "--no-such-flag"),
        (vec!["no-such-command"], "no-such-command"),
        (vec!["key"], "`vouch key` needs a command: generate, list"),
        (vec!["--output", "yaml", "key", "list"], "yaml"),
    ] {
        let out = fails(vouch(&trust), &args, 2);
        assert!(
            out.stderr.starts_with("vouch: error: ") && out.stderr.contains(says),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("\nvouch: hint: "), "{}", out.stderr);
        assert!(!out.stderr.contains("\nerror:"), "{}", out.stderr);
        assert_eq!(out.stdout, "");
    }
    // --help and --version are answers, not errors. Global options have their own
    // section, after the command's own options; the main commands show examples.
    for cmd in [
        vec!["verify"],
        vec!["sign"],
        vec!["init"],
        vec!["trust", "pin"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let help = ok(vouch(&trust), &args).stdout;
        let own = help.find("\nOptions:").unwrap_or_else(|| panic!("{help}"));
        let global = help
            .find("\nGlobal options:")
            .unwrap_or_else(|| panic!("{help}"));
        assert!(own < global, "{help}");
        assert!(!help[own..global].contains("--trust-dir"), "{help}");
        assert!(help[global..].contains("--trust-dir"), "{help}");
        let examples = help
            .find("\nExamples:\n")
            .unwrap_or_else(|| panic!("{cmd:?}: {help}"));
        assert!(
            help[examples..].contains(&format!("  vouch {} ", cmd.join(" "))),
            "{help}"
        );
    }
    ok(vouch(&trust), &["--version"]);
}

// ---------------------------------------------------------------------------------------
// 5. `unsign` of a name that was never signed

#[test]
fn unsign_of_a_name_never_signed_is_an_error_and_stages_nothing() {
    let server = NotaryServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let trust = tmp.path().join("vouch");
    let gun = "example.com/unsign/app";
    let srv = |c: &mut assert_cmd::Command| {
        c.arg("-s").arg(&server.url);
    };
    let cmd = || {
        let mut c = vouch(&trust);
        srv(&mut c);
        c
    };
    ok(cmd(), &["init", gun]);
    ok(cmd(), &["sign", &tag_pair(gun, "v1", 11)]);
    let changelist = trust.join("tuf").join(gun).join("changelist");
    let before = support::snapshot_tree(&changelist);
    for args in [
        vec!["unsign".to_owned(), format!("{gun}:v9")],
        vec!["unsign".to_owned(), gun.to_owned(), "v9".to_owned()],
        vec![
            "unsign".to_owned(),
            "--stage".to_owned(),
            format!("{gun}:v9"),
        ],
        // One unknown name among known ones: nothing is removed.
        vec![
            "unsign".to_owned(),
            format!("{gun}:v1"),
            format!("{gun}:v9"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = fails(cmd(), &args, 1);
        assert!(
            out.stderr
                .starts_with(&format!("vouch: error: no target \"v9\" in {gun}")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("Removed"), "{}", out.stderr);
        assert_eq!(
            support::snapshot_tree(&changelist),
            before,
            "{args:?} staged"
        );
        let status = ok(cmd(), &["status", gun]).stdout;
        assert!(status.contains("No unpublished changes"), "{status}");
    }
    // The server still has v1, as the real notary CLI reads it.
    let n = Notary::with_server(&tmp.path().join("notary"), &server);
    let names: Vec<String> = list_rows(&n.run(&["list", gun]))
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(names, ["v1"]);
    // A name staged to be signed may be unsigned (dropping it), and a signed one is removed.
    ok(cmd(), &["sign", "--stage", &tag_pair(gun, "v2", 12)]);
    ok(cmd(), &["unsign", "--stage", &format!("{gun}:v2")]);
    let out = ok(cmd(), &["unsign", &format!("{gun}:v1")]);
    assert!(
        out.stderr.contains(&format!("Removed v1 from {gun}")),
        "{}",
        out.stderr
    );
    assert!(n.run(&["list", gun]).contains("No targets present"));
}
