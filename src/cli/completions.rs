//! `vouch completions SHELL` (clap_complete) and `vouch man [COMMAND]` (clap_mangen):
//! both generated from the command-line definitions, so they never drift from them.

use std::io::Write;
use std::path::Path;

use super::{usage, CliError, CliResult};

pub fn completions(shell: clap_complete::Shell) -> CliResult {
    let mut cmd = super::args::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "vouch", &mut out);
    out.flush().map_err(|e| write_err("stdout", e))
}

/// The man page of `vouch` or of one of its commands (`["trust", "pin"]`) on stdout; with
/// `out_dir`, every page written there as NAME.1.
pub fn man(command: &[String], out_dir: Option<&Path>) -> CliResult {
    let mut root = super::args::command();
    root.build();
    if let Some(dir) = out_dir {
        let mut pages = Vec::new();
        collect(&root, "vouch", &mut pages);
        std::fs::create_dir_all(dir).map_err(|e| write_err(&dir.display().to_string(), e))?;
        for (name, cmd) in pages {
            let path = dir.join(format!("{name}.1"));
            let mut buf = Vec::new();
            render(cmd, &name, &mut buf)?;
            std::fs::write(&path, buf).map_err(|e| write_err(&path.display().to_string(), e))?;
        }
        return Ok(());
    }
    let mut cmd = &root;
    let mut name = "vouch".to_owned();
    for word in command {
        cmd = cmd.find_subcommand(word).ok_or_else(|| {
            usage(format!(
                "no command `{name} {word}`; `vouch --help` lists the commands"
            ))
        })?;
        name = format!("{name}-{}", cmd.get_name());
    }
    let mut out = std::io::stdout().lock();
    render(cmd, &name, &mut out)?;
    out.flush().map_err(|e| write_err("stdout", e))
}

/// `cmd` and its subcommands (depth first) with their page names (`vouch-trust-pin`).
fn collect<'a>(cmd: &'a clap::Command, name: &str, out: &mut Vec<(String, &'a clap::Command)>) {
    out.push((name.to_owned(), cmd));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        collect(sub, &format!("{name}-{}", sub.get_name()), out);
    }
}

fn render(cmd: &clap::Command, name: &str, out: &mut dyn Write) -> CliResult {
    let page = cmd
        .clone()
        .name(name.to_owned())
        .bin_name(name.replace('-', " "));
    clap_mangen::Man::new(page)
        .render(out)
        .map_err(|e| write_err(name, e))
}

/// A failed write; a reader that went away (`vouch man sign | head`) is not an error.
fn write_err(what: &str, e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    usage(format!("cannot write {what}: {e}"))
}
