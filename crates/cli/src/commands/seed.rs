//! `isoforge seed`: cloud-init NoCloud seed images, checked before they
//! are written, and `--inspect` to see what cloud-init will find in one.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use isoforge::seed::{self, Finding, SeedFormat, SeedInput, SeedOptions, SeedReport, Severity};
use serde_json::json;

use crate::args::Cli;
use crate::commands::create::write_image;
use crate::commands::Outcome;

/// Options of `seed`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output image (`-` for standard output).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        required_unless_present = "inspect"
    )]
    pub output: Option<PathBuf>,
    /// user-data (`-` for standard input). Default: a #cloud-config for
    /// --ssh-key, --password-hash and --hostname, or an empty file.
    #[arg(long, value_name = "FILE")]
    pub user_data: Option<PathBuf>,
    /// meta-data. Default: instance-id (see --instance-id) and
    /// local-hostname (with --hostname).
    #[arg(long, value_name = "FILE")]
    pub meta_data: Option<PathBuf>,
    /// network-config (network configuration version 1 or 2).
    #[arg(long, value_name = "FILE")]
    pub network_config: Option<PathBuf>,
    /// vendor-data.
    #[arg(long, value_name = "FILE")]
    pub vendor_data: Option<PathBuf>,
    /// Host name (local-hostname in the generated meta-data).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// instance-id of the generated meta-data. Default: derived from the
    /// other files, so a changed seed is a new instance.
    #[arg(long, value_name = "ID")]
    pub instance_id: Option<String>,
    /// SSH public key for the default user: a key line or a file of them
    /// (e.g. ~/.ssh/id_ed25519.pub); repeatable.
    #[arg(long = "ssh-key", value_name = "FILE|KEY")]
    pub ssh_key: Vec<String>,
    /// crypt(3) hash of the default user's password (mkpasswd -m sha-512).
    #[arg(long, value_name = "HASH")]
    pub password_hash: Option<String>,
    /// Put a host file into the seed at ISO_PATH; repeatable.
    #[arg(long = "file", value_name = "ISO_PATH=HOST_PATH")]
    pub file: Vec<String>,
    /// Write a FAT image labelled CIDATA instead of ISO 9660.
    #[arg(long)]
    pub vfat: bool,
    /// Do not check user-data, meta-data, network-config and vendor-data.
    #[arg(long)]
    pub no_check: bool,
    /// Show what cloud-init will see in an existing seed image and check it.
    #[arg(long, value_name = "IMAGE", conflicts_with_all = [
        "output", "user_data", "meta_data", "network_config", "vendor_data", "hostname",
        "instance_id", "ssh_key", "password_hash", "file", "vfat", "no_check",
    ])]
    pub inspect: Option<PathBuf>,
    /// With --inspect: print JSON.
    #[arg(long, requires = "inspect")]
    pub json: bool,
}

/// Runs `seed`.
pub fn run(cli: &Cli, a: &Args, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    if let Some(image) = &a.inspect {
        return run_inspect(a, image, out);
    }
    let Some(output) = &a.output else {
        bail!("give the image to write with -o FILE");
    };
    let mut opts = SeedOptions::default();
    opts.user_data = read_input(a.user_data.as_deref())?;
    opts.meta_data = read_input(a.meta_data.as_deref())?;
    opts.network_config = read_input(a.network_config.as_deref())?;
    opts.vendor_data = read_input(a.vendor_data.as_deref())?;
    opts.hostname = a.hostname.clone();
    opts.instance_id = a.instance_id.clone();
    opts.password_hash = a.password_hash.clone();
    for k in &a.ssh_key {
        opts.ssh_keys.extend(ssh_keys(k)?);
    }
    for f in &a.file {
        let Some((iso, host)) = f
            .split_once('=')
            .filter(|(i, h)| !i.is_empty() && !h.is_empty())
        else {
            bail!("--file {f:?} is not ISO_PATH=HOST_PATH (e.g. scripts/setup.sh=./setup.sh)");
        };
        opts.files.push((iso.to_string(), PathBuf::from(host)));
    }
    opts.format = if a.vfat {
        SeedFormat::Vfat
    } else {
        SeedFormat::Iso9660
    };
    opts.check = !a.no_check;
    opts.time = source_date_epoch()?.unwrap_or(0);
    let prepared = seed::prepare(&opts)?;
    let errors = report_findings(cli, prepared.findings());
    if errors > 0 {
        bail!(
            "{errors} problem(s) that would make cloud-init ignore or fail on the seed; \
             fix them, or write the seed anyway with --no-check"
        );
    }
    if !cli.quiet {
        let generated: Vec<&str> = prepared.generated().collect();
        if !generated.is_empty() {
            eprintln!("isoforge: generated {}", generated.join(" and "));
        }
        if let Some(id) = prepared.instance_id() {
            eprintln!("isoforge: instance-id: {id}");
        }
    }
    match prepared.format() {
        SeedFormat::Vfat => write_bytes(&prepared.fat_image()?, output, out)?,
        _ => write_image(cli, &prepared.plan_iso()?, output, out)?,
    }
    Ok(Outcome::Ok)
}

/// `SOURCE_DATE_EPOCH`, when set.
fn source_date_epoch() -> anyhow::Result<Option<i64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => {
            Ok(Some(v.trim().parse::<i64>().with_context(|| {
                format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")
            })?))
        }
        _ => Ok(None),
    }
}

/// A seed file from the host (`-` is standard input).
fn read_input(path: Option<&Path>) -> anyhow::Result<Option<SeedInput>> {
    let Some(path) = path else { return Ok(None) };
    let data = if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        buf
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let origin = if path.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    Ok(Some(SeedInput::new(origin, data)))
}

/// The keys an `--ssh-key` value stands for: itself when it is a key line,
/// else the key lines of the file it names.
fn ssh_keys(v: &str) -> anyhow::Result<Vec<String>> {
    if seed::is_ssh_public_key(v.trim()) {
        return Ok(vec![v.trim().to_string()]);
    }
    let path = Path::new(v);
    if !path.exists() {
        bail!("--ssh-key {v:?} is neither an SSH public key line nor a file");
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let keys: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if keys.is_empty() {
        bail!("--ssh-key {}: the file holds no key", path.display());
    }
    for (i, k) in keys.iter().enumerate() {
        if !seed::is_ssh_public_key(k) {
            bail!(
                "--ssh-key {}: line {} is not an SSH public key (is it the private key? \
                 give the .pub file)",
                path.display(),
                i + 1
            );
        }
    }
    Ok(keys)
}

/// Prints warnings (and notes with -v) to standard error; returns the
/// number of errors, which are printed too.
fn report_findings(cli: &Cli, findings: &[Finding]) -> usize {
    let mut errors = 0;
    for f in findings {
        match f.severity {
            Severity::Error => {
                errors += 1;
                eprintln!("isoforge: error: {f}");
            }
            Severity::Warning if !cli.quiet => eprintln!("isoforge: warning: {f}"),
            Severity::Note if cli.verbose && !cli.quiet => eprintln!("isoforge: note: {f}"),
            _ => {}
        }
    }
    errors
}

/// Writes `bytes` to `output` (`-`: standard output) through a temporary
/// file renamed into place when complete.
fn write_bytes(bytes: &[u8], output: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    if output.as_os_str() == "-" {
        out.write_all(bytes)?;
        return Ok(());
    }
    if output.is_dir() {
        bail!(
            "{} is a directory; give the image's file name with -o",
            output.display()
        );
    }
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".isoforge-")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", output.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
    let tmp = tmp.into_temp_path();
    isoforge::write::replace_file(&tmp, output)
        .with_context(|| format!("cannot rename the finished image to {}", output.display()))?;
    let _ = tmp.keep();
    Ok(())
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        _ => "note",
    }
}

fn run_inspect(a: &Args, image: &Path, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let f =
        std::fs::File::open(image).with_context(|| format!("cannot open {}", image.display()))?;
    let r = seed::inspect(f).with_context(|| image.display().to_string())?;
    if a.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report_json(&r))?)?;
    } else {
        render_text(&r, out)?;
    }
    Ok(if r.has_errors() {
        Outcome::Failed
    } else {
        Outcome::Ok
    })
}

fn format_name(f: SeedFormat) -> &'static str {
    match f {
        SeedFormat::Vfat => "vfat",
        _ => "iso9660",
    }
}

fn report_json(r: &SeedReport) -> serde_json::Value {
    json!({
        "schema": 1,
        "type": format_name(r.format),
        "label": r.label,
        "labels": r.labels.iter().map(|(w, l)| json!({"where": w, "label": l})).collect::<Vec<_>>(),
        "instance_id": r.instance_id,
        "local_hostname": r.local_hostname,
        "listings": r.listings.iter().map(|l| json!({
            "namespace": l.namespace,
            "reader": l.reader,
            "files": l.files.iter().map(|(n, s, d)| json!({
                "name": n, "size": s, "type": if *d { "dir" } else { "file" },
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "findings": r.findings.iter().map(|f| json!({
            "severity": severity_name(f.severity),
            "file": (!f.file.is_empty()).then_some(&f.file),
            "line": f.line,
            "message": f.message,
        })).collect::<Vec<_>>(),
        "ok": !r.has_errors(),
    })
}

fn render_text(r: &SeedReport, out: &mut dyn Write) -> anyhow::Result<()> {
    writeln!(out, "type:           {}", format_name(r.format))?;
    writeln!(out, "label:          {}", r.label)?;
    for (w, l) in &r.labels {
        writeln!(out, "  {w}: {l}")?;
    }
    writeln!(
        out,
        "instance-id:    {}",
        r.instance_id.as_deref().unwrap_or("(none)")
    )?;
    if let Some(h) = &r.local_hostname {
        writeln!(out, "local-hostname: {h}")?;
    }
    for l in &r.listings {
        writeln!(out, "{} names, read by {}:", l.namespace, l.reader)?;
        for (name, size, dir) in &l.files {
            let name = if *dir {
                format!("{name}/")
            } else {
                name.clone()
            };
            writeln!(out, "  {size:>10}  {name}")?;
        }
    }
    if r.findings.is_empty() {
        writeln!(out, "checks:         ok")?;
    } else {
        writeln!(out, "checks:")?;
        for f in &r.findings {
            writeln!(out, "  {}: {f}", severity_name(f.severity))?;
        }
    }
    Ok(())
}
