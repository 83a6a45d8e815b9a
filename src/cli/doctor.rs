//! `vouch doctor [GUN] [--fix]`: what is wrong in the trust dir, and what was repaired.

use serde_json::json;
use vouch::trust::doctor::{self, Finding, Options};

use super::output::print_json;
use super::{CliResult, Context};

pub fn run(ctx: &Context, gun: Option<&str>, fix: bool) -> CliResult {
    let gun = gun.map(|g| ctx.gun(g)).transpose()?;
    let report = doctor::examine(
        &ctx.trust_dir,
        &Options {
            gun: gun.as_ref(),
            fix,
            clock: &vouch::clock::SystemClock,
        },
    )?;
    if let Some(g) = &gun {
        if report.repositories.is_empty() {
            ctx.warn(format!(
                "nothing is cached or staged for {g} in {}; only its keys were checked",
                ctx.trust_dir.display()
            ));
        }
    }
    if ctx.json() {
        let list: Vec<serde_json::Value> = report.findings.iter().map(finding_json).collect();
        print_json(&serde_json::Value::Array(list));
    } else {
        print_text(ctx, &report, fix);
    }
    let unresolved = report.unresolved();
    if unresolved > 0 {
        return Err(vouch::trust::TrustError::Unhealthy {
            count: unresolved,
            dir: ctx.trust_dir.clone(),
            after_fix: fix,
        }
        .into());
    }
    Ok(())
}

/// What to do about a finding: the library's words, or the command that does it.
fn to_do(f: &Finding) -> String {
    f.remedy
        .as_ref()
        .map(vouch::advice::remedy)
        .unwrap_or_else(|| f.fix.clone())
}

fn finding_json(f: &Finding) -> serde_json::Value {
    json!({
        "kind": f.kind.as_str(),
        "severity": if f.kind.is_problem() { "problem" } else { "info" },
        "path": f.path,
        "gun": f.gun,
        "detail": f.detail,
        "fix": to_do(f),
        "fixable": f.fixable,
        "fixed": f.fixed,
    })
}

fn print_text(ctx: &Context, report: &doctor::Report, fix: bool) {
    let mut out = String::new();
    for f in &report.findings {
        let label = if f.kind.is_problem() {
            "problem"
        } else {
            "info"
        };
        out.push_str(&format!("{label}: {}: {}\n", f.path.display(), f.detail));
        let action = match (f.fixable, fix, f.fixed) {
            (true, true, true) => format!("fixed: {}", f.fix),
            (true, true, false) => format!("not fixed: {}", f.fix),
            (true, false, _) => format!("--fix would: {}", f.fix),
            (false, _, _) => format!("to do: {}", to_do(f)),
        };
        out.push_str(&format!("    {action}\n"));
    }
    let problems = report
        .findings
        .iter()
        .filter(|f| f.kind.is_problem())
        .count();
    let unresolved = report.unresolved();
    let summary = if problems == 0 {
        format!(
            "no problems in {} ({} key file(s), {} repository(ies) checked)",
            ctx.trust_dir.display(),
            report.key_files,
            report.repositories.len()
        )
    } else if fix {
        format!(
            "{problems} problem(s) found, {} repaired, {unresolved} left",
            problems - unresolved
        )
    } else {
        format!("{problems} problem(s) found")
    };
    out.push_str(&summary);
    out.push('\n');
    out!("{out}");
}
