//! `vouch config show [GUN]`: the settings in effect and where each came from.

use serde_json::json;

use super::args::ConfigCommand;
use super::output::{print_json, Table};
use super::{CliResult, Context};

/// One effective setting: its value (None: not set) and where it came from.
struct Setting {
    name: &'static str,
    /// A JSON string, number or boolean; null when not set.
    value: serde_json::Value,
    source: String,
}

pub fn run(ctx: &Context, cmd: ConfigCommand) -> CliResult {
    match cmd {
        ConfigCommand::Show { gun } => show(ctx, gun.as_deref()),
    }
}

fn env_set(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn show(ctx: &Context, gun: Option<&str>) -> CliResult {
    use vouch::remote::config::CONFIG_FILE;
    let gun = gun.map(|g| ctx.gun(g)).transpose()?;
    let g = &ctx.global;
    let mut out = Vec::new();

    let trust_dir_source = if g.trust_dir.is_some() {
        "--trust-dir".to_owned()
    } else if env_set("VOUCH_TRUST_DIR").is_some() {
        "VOUCH_TRUST_DIR".to_owned()
    } else {
        "default (~/.vouch)".to_owned()
    };
    out.push(Setting {
        name: "trust_dir",
        value: ctx.trust_dir.display().to_string().into(),
        source: trust_dir_source,
    });

    let config_path = ctx.config_path();
    let present = config_path.is_file();
    out.push(Setting {
        name: "config",
        value: config_path.display().to_string().into(),
        source: match (&g.config, present) {
            (Some(_), _) => "--config".to_owned(),
            (None, true) => format!("default (<trust-dir>/{CONFIG_FILE})"),
            (None, false) => format!("default (<trust-dir>/{CONFIG_FILE}; no such file)"),
        },
    });

    // Parsing the file refuses unknown keys and bad values, as every command does.
    let cfg = ctx.remote_config()?;
    let overrides = ctx.remote_overrides()?;
    let resolved = cfg.resolve(gun.as_ref(), &overrides, &ctx.trust_dir)?;
    let file = || format!("config file {}", config_path.display());
    out.push(Setting {
        name: "server",
        value: resolved.url.clone().into(),
        source: resolved.source.clone(),
    });
    let path_setting = |name,
                        flag: &Option<std::path::PathBuf>,
                        flag_name: &str,
                        value: &Option<std::path::PathBuf>| Setting {
        name,
        value: value.as_ref().map(|p| p.display().to_string()).into(),
        source: match (flag, value) {
            (Some(_), _) => flag_name.to_owned(),
            (None, Some(_)) => file(),
            (None, None) => "not set".to_owned(),
        },
    };
    out.push(path_setting(
        "tls_ca_cert",
        &g.tls_ca_cert,
        "--tls-ca-cert",
        &resolved.tls.ca_cert,
    ));
    out.push(path_setting(
        "tls_client_cert",
        &g.tls_client_cert,
        "--tls-client-cert",
        &resolved.tls.client_cert,
    ));
    out.push(path_setting(
        "tls_client_key",
        &g.tls_client_key,
        "--tls-client-key",
        &resolved.tls.client_key,
    ));
    out.push(Setting {
        name: "skip_tls_verify",
        value: resolved.tls.insecure_skip_verify.into(),
        source: if resolved.tls.insecure_skip_verify {
            file()
        } else {
            "default".to_owned()
        },
    });
    out.push(Setting {
        name: "max_root_size",
        value: resolved.max_root_size.into(),
        source: if env_set("VOUCH_MAX_ROOT_SIZE").is_some() {
            "VOUCH_MAX_ROOT_SIZE".to_owned()
        } else if cfg.max_root_size.is_some() {
            file()
        } else {
            "default (1 MiB)".to_owned()
        },
    });
    let (timeouts, timeout_source) = ctx.timeouts()?;
    out.push(Setting {
        name: "timeout",
        value: format!("{}s", timeouts.request.as_secs_f64()).into(),
        source: timeout_source,
    });
    let env_module = std::env::var_os(super::pkcs11::MODULE_ENV).filter(|v| !v.is_empty());
    let (module, module_source) = match (&g.pkcs11_module, env_module, ctx.config_pkcs11_module()) {
        (Some(p), _, _) => (Some(p.clone()), "--pkcs11-module".to_owned()),
        (None, Some(p), _) => (Some(p.into()), super::pkcs11::MODULE_ENV.to_owned()),
        (None, None, Some(p)) => (Some(p), file()),
        (None, None, None) => (None, "not set (only token keys need it)".to_owned()),
    };
    out.push(Setting {
        name: "pkcs11_module",
        value: module.map(|p| p.display().to_string()).into(),
        source: module_source,
    });
    let (allow_http, allow_source) = ctx.allow_http_token_service()?;
    out.push(Setting {
        name: "allow_http_token_service",
        value: allow_http.into(),
        source: allow_source,
    });
    out.push(Setting {
        name: "trust_lock",
        value: ctx
            .trust_lock_path()
            .map(|p| p.display().to_string())
            .into(),
        source: if g.trust_lock.is_some() {
            "--trust-lock".to_owned()
        } else if env_set("VOUCH_TRUST_LOCK").is_some() {
            "VOUCH_TRUST_LOCK".to_owned()
        } else {
            "not set".to_owned()
        },
    });
    let pinning = ctx.notary_trust_pinning()?;
    let (tofu, tofu_source) = if pinning.disable_tofu {
        (false, format!("{} trust_pinning.disable_tofu", file()))
    } else if g.tofu {
        (true, "--tofu".to_owned())
    } else if ctx.config_tofu() {
        (true, file())
    } else {
        (false, "default".to_owned())
    };
    out.push(Setting {
        name: "tofu",
        value: tofu.into(),
        source: tofu_source,
    });
    out.push(Setting {
        name: "session",
        value: vouch::keystore::session::name_from_env().into(),
        source: if env_set("VOUCH_SESSION").is_some() {
            "VOUCH_SESSION".to_owned()
        } else {
            "default".to_owned()
        },
    });
    let keyring_env = std::env::var("VOUCH_KEYRING").is_ok_and(|v| v == "1" || v == "true");
    out.push(Setting {
        name: "keyring",
        value: (g.keyring || keyring_env).into(),
        source: if g.keyring {
            "--keyring".to_owned()
        } else if keyring_env {
            "VOUCH_KEYRING".to_owned()
        } else {
            "default".to_owned()
        },
    });

    if ctx.json() {
        let mut settings = serde_json::Map::new();
        for s in &out {
            settings.insert(
                s.name.to_owned(),
                json!({"value": s.value, "source": s.source}),
            );
        }
        print_json(&json!({
            "gun": gun.as_ref().map(|g| g.as_str()),
            "settings": settings,
        }));
    } else {
        let mut t = Table::new(&["SETTING", "VALUE", "SOURCE"]);
        for s in out {
            t.row(vec![
                s.name.to_owned(),
                match s.value {
                    serde_json::Value::Null => "-".to_owned(),
                    serde_json::Value::String(v) => v,
                    other => other.to_string(),
                },
                s.source,
            ]);
        }
        out!("{}", t.render());
    }
    Ok(())
}
