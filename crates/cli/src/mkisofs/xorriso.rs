//! xorriso's own command language, as far as build scripts use it around
//! `-as mkisofs`: settings before it (`-no_rc`, `-report_about`,
//! `-boot_image any gpt_disk_guid=`, `-volume_date`), `-version`, and the
//! commands after a `--` that ends the emulation. A command isoforge does
//! not implement is an error naming it, never ignored.

use anyhow::bail;

use super::build::{guid_hex, iso_date, number, Native};

/// What the native part of a command line asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct NativeLine {
    /// The settings.
    pub native: Native,
    /// The arguments after `-as mkisofs|genisoimage|xorrisofs`.
    pub emulation: Option<Vec<String>>,
    /// `-version` was given.
    pub version: bool,
    /// `-help` was given.
    pub help: bool,
}

/// Commands that take N arguments and change nothing isoforge writes.
const HARMLESS: &[(&str, usize)] = &[
    ("-no_rc", 0),
    ("-report_about", 1),
    ("-abort_on", 1),
    ("-return_with", 2),
    ("-msg_op", 2),
    ("-pkt_output", 1),
    ("-for_backslash_in_names", 1),
    ("-scsi_log", 1),
    ("-temp_mem_limit", 1),
    ("-disk_dev_ino", 1),
    ("-md5", 1),
];

fn take<'a>(
    it: &mut std::slice::Iter<'a, String>,
    cmd: &str,
    n: usize,
) -> anyhow::Result<Vec<&'a String>> {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        match it.next() {
            Some(a) => v.push(a),
            None => bail!(
                "xorriso command {cmd} needs {n} argument{}",
                if n == 1 { "" } else { "s" }
            ),
        }
    }
    Ok(v)
}

/// Applies native commands from `args` to `line`. Stops at `-as` (the rest
/// is the emulated line) unless `after_emulation`.
pub fn apply(args: &[String], line: &mut NativeLine, after_emulation: bool) -> anyhow::Result<()> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let cmd = format!("-{}", a.trim_start_matches('-'));
        if let Some(&(_, n)) = HARMLESS.iter().find(|(c, _)| *c == cmd) {
            take(&mut it, a, n)?;
            continue;
        }
        match cmd.as_str() {
            "-as" if !after_emulation => {
                let prog = take(&mut it, a, 1)?[0];
                if !["mkisofs", "genisoimage", "xorrisofs"].contains(&prog.as_str()) {
                    bail!("xorriso -as {prog}: isoforge speaks only -as mkisofs (or genisoimage, xorrisofs)");
                }
                line.emulation = Some(it.by_ref().cloned().collect());
            }
            "-version" => line.version = true,
            "-help" => line.help = true,
            "-boot_image" => {
                let v = take(&mut it, a, 2)?;
                let (what, setting) = (v[0].as_str(), v[1].as_str());
                if !["any", "grub", "isolinux"].contains(&what) {
                    bail!("xorriso -boot_image {what} {setting}: isoforge takes only `any`");
                }
                match setting.split_once('=') {
                    Some(("gpt_disk_guid", "random")) => {}
                    Some(("gpt_disk_guid", "volume_date_uuid")) => {}
                    Some(("gpt_disk_guid", g)) => {
                        line.native.gpt_disk_guid = Some(guid_hex(g, "gpt_disk_guid")?)
                    }
                    _ => bail!("xorriso -boot_image {what} {setting}: isoforge implements only gpt_disk_guid=HEX here; give boot options after -as mkisofs"),
                }
            }
            "-volume_date" => {
                let v = take(&mut it, a, 2)?;
                let (what, val) = (v[0].as_str(), v[1].as_str());
                match what {
                    "all_file_dates" => {
                        let t = val.strip_prefix('=').unwrap_or(val);
                        if t == "set_to_mtime" {
                            bail!("xorriso -volume_date all_file_dates set_to_mtime is not implemented");
                        }
                        let n = number(t, "-volume_date all_file_dates")?;
                        line.native.all_file_dates = Some(i64::try_from(n)?);
                    }
                    "uuid" | "m" => line.native.volume_modified = Some(iso_date(val, "-volume_date")?),
                    "c" => line.native.volume_created = Some(iso_date(val, "-volume_date")?),
                    _ => bail!("xorriso -volume_date {what}: isoforge implements all_file_dates, uuid, m and c"),
                }
            }
            _ => bail!("xorriso command {a} is not implemented by isoforge (it implements -as mkisofs, -version, -no_rc, -report_about, -boot_image any gpt_disk_guid=, -volume_date and a few harmless settings)"),
        }
        if line.emulation.is_some() {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn v(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn settings_before_as() {
        let mut l = NativeLine::default();
        apply(
            &v(&[
                "-no_rc",
                "-report_about",
                "SORRY",
                "-boot_image",
                "any",
                "gpt_disk_guid=00112233445566778899aabbccddeeff",
                "-volume_date",
                "all_file_dates",
                "=1700000000",
                "-as",
                "mkisofs",
                "-R",
                "-o",
                "x",
            ]),
            &mut l,
            false,
        )
        .unwrap();
        assert_eq!(l.emulation.unwrap(), v(&["-R", "-o", "x"]));
        assert_eq!(l.native.all_file_dates, Some(1_700_000_000));
        assert_eq!(l.native.gpt_disk_guid.unwrap()[0], 0);
    }

    #[test]
    fn unknown_commands_are_named() {
        let mut l = NativeLine::default();
        let e = apply(&v(&["-outdev", "x.iso"]), &mut l, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("-outdev") && e.contains("not implemented"),
            "{e}"
        );
        let e = apply(&v(&["-as", "cdrecord"]), &mut l, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cdrecord"), "{e}");
    }
}
