//! The mkisofs command language, as `xorriso -as mkisofs`, `genisoimage`
//! and `mkisofs` read it: options in any order, with one or more values in
//! the following arguments or attached (`-bboot.img`, `--opt=value`),
//! repeatable, and path specs (host paths, or `ISO_PATH=HOST_PATH` grafts
//! under `-graft-points`) anywhere between them.

use anyhow::{bail, Context};

/// Options whose meaning isoforge cannot give, refused with this reason.
const REFUSED: &[(&str, &str)] = &[
    (
        "-chrp-boot",
        "CHRP (PowerPC) boot records are not supported",
    ),
    (
        "-chrp-boot-part",
        "CHRP (PowerPC) boot records are not supported",
    ),
    (
        "-prep-boot-part",
        "PReP (PowerPC) boot partitions are not supported",
    ),
    ("-mips-boot", "MIPS boot records are not supported"),
    ("-mipsel-boot", "MIPS boot records are not supported"),
    ("--grub2-sparc-core", "SPARC boot records are not supported"),
    ("-sparc-boot", "SPARC boot records are not supported"),
    ("-sparc-label", "SPARC boot records are not supported"),
    ("-hppa-cmdline", "HP-PA boot records are not supported"),
    ("-hfs", "HFS file systems are not supported"),
    ("-jigdo-jigdo", "jigdo output is not supported"),
    ("-jigdo-template", "jigdo output is not supported"),
    ("-jigdo-min-file-size", "jigdo output is not supported"),
    ("-jigdo-exclude", "jigdo output is not supported"),
    ("-jigdo-force-md5", "jigdo output is not supported"),
    ("-jigdo-map", "jigdo output is not supported"),
    ("-jigdo-template-compress", "jigdo output is not supported"),
    (
        "-checksum_algorithm_template",
        "jigdo output is not supported",
    ),
    ("-md5-list", "jigdo output is not supported"),
    (
        "-hide",
        "hiding files from one name space is not supported yet (-m leaves them out of all)",
    ),
    (
        "-hide-joliet",
        "hiding files from one name space is not supported yet (-m leaves them out of all)",
    ),
    (
        "-hide-list",
        "hiding files from one name space is not supported yet (-m leaves them out of all)",
    ),
    (
        "-hide-joliet-list",
        "hiding files from one name space is not supported yet (-m leaves them out of all)",
    ),
    (
        "-udf",
        "UDF is not written by the mkisofs front end yet (use `isoforge create --udf`)",
    ),
    (
        "-allow-limited-size",
        "UDF is not written by the mkisofs front end yet (use `isoforge create --udf`)",
    ),
];

/// Number of values each accepted option takes, by its canonical name.
const ARITY: &[(&str, usize)] = &[
    // output and reporting
    ("-o", 1),
    ("-quiet", 0),
    ("-v", 0),
    ("-help", 0),
    ("-version", 0),
    ("-print-size", 0),
    // descriptor text
    ("-V", 1),
    ("-A", 1),
    ("-p", 1),
    ("-publisher", 1),
    ("-sysid", 1),
    ("-volset", 1),
    ("-copyright", 1),
    ("-abstract", 1),
    ("-biblio", 1),
    ("--modification-date", 1),
    ("--reproducible", 0),
    // name spaces
    ("-R", 0),
    ("-r", 0),
    ("--norock", 0),
    ("-J", 0),
    ("-joliet-long", 0),
    ("-l", 0),
    ("-iso-level", 1),
    ("-U", 0),
    ("-N", 0),
    ("-D", 0),
    ("-relaxed-filenames", 0),
    ("-allow-lowercase", 0),
    ("-allow-multidot", 0),
    ("-allow-leading-dots", 0),
    ("-cache-inodes", 0),
    ("-no-cache-inodes", 0),
    ("-f", 0),
    ("-input-charset", 1),
    // MD5 and SHA digests of jigdo output and session tags: isoforge
    // writes neither, so the choice of algorithm changes nothing.
    ("-checksum_algorithm_iso", 1),
    ("-output-charset", 1),
    // what goes in
    ("-m", 1),
    ("-exclude-list", 1),
    ("-graft-points", 0),
    ("-path-list", 1),
    ("--sort-weight", 2),
    // El Torito
    ("-b", 1),
    ("-c", 1),
    ("--boot-catalog-hide", 0),
    ("-no-emul-boot", 0),
    ("-hard-disk-boot", 0),
    ("-boot-load-size", 1),
    ("-boot-load-seg", 1),
    ("-boot-info-table", 0),
    ("--grub2-boot-info", 0),
    ("-eltorito-alt-boot", 0),
    ("-eltorito-platform", 1),
    ("-e", 1),
    ("-efi-boot-part", 1),
    // hybrid
    ("-isohybrid-mbr", 1),
    ("-isohybrid-gpt-basdat", 0),
    ("-isohybrid-gpt-hfsplus", 0),
    ("-isohybrid-apm-hfsplus", 0),
    ("--grub2-mbr", 1),
    ("--protective-msdos-label", 0),
    ("-partition_offset", 1),
    ("-partition_cyl_align", 1),
    ("-partition_hd_cyl", 1),
    ("-partition_sec_hd", 1),
    ("--mbr-force-bootable", 0),
    ("-append_partition", 3),
    ("-appended_part_as_gpt", 0),
    ("-appended_part_as_apm", 0),
    ("-iso_mbr_part_type", 1),
    ("-part_like_isohybrid", 0),
    ("-apm-block-size", 1),
    // HFS+: grub-mkrescue asks for it whenever it makes a UEFI image, so it
    // is accepted, loudly, and none is written (see `build::hfsplus_note`).
    ("-hfsplus", 0),
    ("-hfsplus-file-creator-type", 3),
    ("-hfs-bless-by", 2),
    ("-hfs-bless", 1),
    ("-G", 1),
    ("-pad", 0),
    ("-no-pad", 0),
];

/// Other spellings of options, by canonical name.
const ALIASES: &[(&str, &str)] = &[
    ("-output", "-o"),
    ("-volid", "-V"),
    ("-appid", "-A"),
    ("-preparer", "-p"),
    ("-rock", "-R"),
    ("-rational-rock", "-r"),
    ("-joliet", "-J"),
    ("-full-iso9660-filenames", "-l"),
    ("-untranslated-filenames", "-U"),
    ("-omit-version-number", "-N"),
    ("-disable-deep-relocation", "-D"),
    ("-follow-links", "-f"),
    ("-exclude", "-m"),
    ("-x", "-m"),
    ("-eltorito-boot", "-b"),
    ("-eltorito-catalog", "-c"),
    ("-efi-boot", "-e"),
    ("-generic-boot", "-G"),
    ("-gui", "-quiet"),
];

/// One El Torito entry as the options describe it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootSpec {
    /// Boot image path in the image (empty: not given yet).
    pub path: String,
    /// `-e`: a UEFI entry.
    pub efi: bool,
    /// `-eltorito-platform`.
    pub platform: Option<String>,
    /// `-no-emul-boot`.
    pub no_emul: bool,
    /// `-hard-disk-boot`.
    pub hard_disk: bool,
    /// `-boot-load-size`.
    pub load_size: Option<String>,
    /// `-boot-load-seg`.
    pub load_seg: Option<String>,
    /// `-boot-info-table`.
    pub info_table: bool,
    /// `--grub2-boot-info`.
    pub grub2_info: bool,
}

/// Everything a command line says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Options as given, canonical name and values, in order.
    pub opts: Vec<(String, Vec<String>)>,
    /// Path specs in order (from the command line and `-path-list` files).
    pub paths: Vec<String>,
    /// El Torito entries in order.
    pub boot: Vec<BootSpec>,
    /// Arguments after a `--` that ends the emulation (xorriso's native
    /// commands).
    pub native_after: Vec<String>,
}

impl Spec {
    /// Whether option `name` (canonical) was given.
    pub fn has(&self, name: &str) -> bool {
        self.opts.iter().any(|(n, _)| n == name)
    }
    /// The last value of option `name`.
    pub fn last(&self, name: &str) -> Option<&str> {
        self.opts
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
    /// Every value list of option `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [String]> + 'a {
        self.opts
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// How `--` is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DashDash {
    /// As xorriso: the end of the emulation, native commands follow.
    EndsEmulation,
    /// As genisoimage: the end of options, path specs follow.
    EndsOptions,
}

fn arity(name: &str) -> Option<usize> {
    ARITY.iter().find(|(n, _)| *n == name).map(|&(_, a)| a)
}

/// The canonical name of an option as spelled (`-x`, `--x`, `-alias`), or
/// `None` when it is no option isoforge knows.
fn canonical(spelled: &str) -> Option<&'static str> {
    let bare = spelled.trim_start_matches('-');
    if bare.is_empty() {
        return None;
    }
    for cand in [format!("-{bare}"), format!("--{bare}")] {
        if let Some((n, _)) = ARITY.iter().find(|(n, _)| *n == cand) {
            return Some(n);
        }
        if let Some((_, to)) = ALIASES.iter().find(|(a, _)| *a == cand) {
            return Some(to);
        }
    }
    None
}

fn refused(spelled: &str) -> Option<&'static str> {
    let bare = spelled.trim_start_matches('-');
    REFUSED
        .iter()
        .find(|(n, _)| n.trim_start_matches('-') == bare || bare.starts_with("jigdo-"))
        .map(|&(_, why)| why)
}

/// Splits an argument into an option and an attached value: `--opt=value`,
/// `-opt=value`, or a one-letter option with its value attached
/// (`-bboot.img`, `-oout.iso`).
fn split_attached(arg: &str) -> Option<(&'static str, String)> {
    if let Some((k, v)) = arg.split_once('=') {
        if let Some(c) = canonical(k).filter(|c| arity(c) == Some(1)) {
            return Some((c, v.to_string()));
        }
    }
    let rest = arg.strip_prefix('-')?;
    let mut chars = rest.chars();
    let first = chars.next()?;
    let value = chars.as_str();
    if value.is_empty() || first == '-' {
        return None;
    }
    let c = canonical(&format!("-{first}")).filter(|c| c.len() == 2)?;
    // `-old-root` is an unknown option, not `-o ld-root`: a value attached
    // to a lower-case letter must hold something other than letters and
    // dashes (`-bboot/etfsboot.com`, `-oout.iso`).
    let word = value.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-');
    (arity(c) == Some(1) && (first.is_ascii_uppercase() || !word)).then(|| (c, value.to_string()))
}

/// Expands clustered one-letter flags (`-JR`, `-rJ`) when every letter is
/// a flag without a value.
fn cluster(arg: &str) -> Option<Vec<&'static str>> {
    let rest = arg.strip_prefix('-').filter(|r| !r.starts_with('-'))?;
    if rest.chars().count() < 2 {
        return None;
    }
    rest.chars()
        .map(|c| canonical(&format!("-{c}")).filter(|n| n.len() == 2 && arity(n) == Some(0)))
        .collect()
}

/// Reads a `-path-list` or `-exclude-list` file: one entry a line.
fn read_list(file: &str) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read the list {file}"))?;
    Ok(text
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Parses `args` (the arguments after the program name, or after
/// `-as mkisofs`).
pub fn parse(args: &[String], dashdash: DashDash) -> anyhow::Result<Spec> {
    let mut s = Spec::default();
    let mut cur = BootSpec::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" {
            match dashdash {
                DashDash::EndsEmulation => {
                    s.native_after = it.by_ref().cloned().collect();
                }
                DashDash::EndsOptions => s.paths.extend(it.by_ref().cloned()),
            }
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            s.paths.push(arg.clone());
            continue;
        }
        if let Some(why) = refused(arg.split('=').next().unwrap_or(arg)) {
            bail!("{arg}: {why}");
        }
        let (name, values): (&str, Vec<String>) = if let Some(c) = canonical(arg) {
            let n = arity(c).unwrap_or(0);
            let mut vals = Vec::with_capacity(n);
            for _ in 0..n {
                match it.next() {
                    Some(v) => vals.push(v.clone()),
                    None => bail!("{arg}: needs {n} value{}", if n == 1 { "" } else { "s" }),
                }
            }
            (c, vals)
        } else if let Some((c, v)) = split_attached(arg) {
            (c, vec![v])
        } else if let Some(flags) = cluster(arg) {
            for f in flags {
                s.opts.push((f.to_string(), Vec::new()));
            }
            continue;
        } else {
            bail!("{arg}: unknown option (see -help)");
        };
        let first = values.first().cloned().unwrap_or_default();
        match name {
            "-b" | "-e" => {
                if !cur.path.is_empty() {
                    s.boot.push(std::mem::take(&mut cur));
                }
                cur.efi = name == "-e";
                cur.path = first.clone();
            }
            "-efi-boot-part" if first == "--efi-boot-image" => {}
            "-eltorito-alt-boot" if !cur.path.is_empty() => {
                s.boot.push(std::mem::take(&mut cur));
            }
            "-eltorito-platform" => cur.platform = Some(first.clone()),
            "-no-emul-boot" => cur.no_emul = true,
            "-hard-disk-boot" => cur.hard_disk = true,
            "-boot-load-size" => cur.load_size = Some(first.clone()),
            "-boot-load-seg" => cur.load_seg = Some(first.clone()),
            "-boot-info-table" => cur.info_table = true,
            "--grub2-boot-info" => cur.grub2_info = true,
            "-path-list" => s.paths.extend(read_list(&first)?),
            "-exclude-list" => {
                for g in read_list(&first)? {
                    s.opts.push(("-m".into(), vec![g]));
                }
                continue;
            }
            _ => {}
        }
        s.opts.push((name.to_string(), values));
    }
    if !cur.path.is_empty() {
        s.boot.push(cur);
    } else if cur != BootSpec::default() {
        bail!("boot options (-no-emul-boot, -boot-load-size, ...) are given for no boot image: -b or -e must come first");
    }
    Ok(s)
}

/// Splits a `-graft-points` path spec at its first unescaped `=` and
/// removes the escapes (`\=` is `=`, `\\` is `\`) from both sides. `None`
/// for the ISO path when there is no `=`.
pub fn graft(spec: &str) -> (Option<String>, String) {
    let mut left = String::new();
    let mut cur = String::new();
    let mut split = false;
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('=' | '\\')) => cur.push(n),
                Some(n) => {
                    cur.push('\\');
                    cur.push(n);
                }
                None => cur.push('\\'),
            },
            '=' if !split => {
                split = true;
                left = std::mem::take(&mut cur);
            }
            c => cur.push(c),
        }
    }
    if split {
        (Some(left), cur)
    } else {
        (None, cur)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> anyhow::Result<Spec> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&v, DashDash::EndsOptions)
    }

    #[test]
    fn attached_values_and_aliases() {
        let s = p(&[
            "-bboot/etfsboot.com",
            "--modification-date=2024010203040500",
            "-volid",
            "X",
            "-oout.iso",
            "d",
        ])
        .unwrap();
        assert_eq!(s.boot[0].path, "boot/etfsboot.com");
        assert_eq!(s.last("--modification-date"), Some("2024010203040500"));
        assert_eq!(s.last("-V"), Some("X"));
        assert_eq!(s.last("-o"), Some("out.iso"));
        assert_eq!(s.paths, ["d"]);
    }

    #[test]
    fn one_and_two_dashes_and_clusters() {
        let s = p(&["--J", "-rock", "--rational-rock", "-JR", "--iso-level", "3"]).unwrap();
        assert_eq!(s.all("-J").count(), 2);
        assert!(s.has("-R") && s.has("-r"));
        assert_eq!(s.last("-iso-level"), Some("3"));
    }

    #[test]
    fn boot_entries_follow_the_alt_boot_rule() {
        let s = p(&[
            "-b",
            "i/isolinux.bin",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-eltorito-alt-boot",
            "-e",
            "efi.img",
            "-no-emul-boot",
        ])
        .unwrap();
        assert_eq!(s.boot.len(), 2);
        assert!(s.boot[0].info_table && !s.boot[0].efi);
        assert!(s.boot[1].efi && s.boot[1].no_emul && s.boot[1].load_size.is_none());
    }

    #[test]
    fn unknown_and_refused_options_are_named() {
        let e = p(&["-frobnicate"]).unwrap_err().to_string();
        assert!(e.contains("-frobnicate") && e.contains("unknown"), "{e}");
        let e = p(&["-hfs"]).unwrap_err().to_string();
        assert!(e.contains("HFS file systems are not supported"), "{e}");
        let e = p(&["-jigdo-jigdo", "x"]).unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
        let e = p(&["-old-root", "x"]).unwrap_err().to_string();
        assert!(e.contains("-old-root") && e.contains("unknown"), "{e}");
        let e = p(&["-o"]).unwrap_err().to_string();
        assert!(e.contains("-o: needs 1 value"), "{e}");
    }

    #[test]
    fn dash_dash() {
        let v: Vec<String> = ["-J", "--", "-weird", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let s = parse(&v, DashDash::EndsOptions).unwrap();
        assert_eq!(s.paths, ["-weird", "x"]);
        let s = parse(&v, DashDash::EndsEmulation).unwrap();
        assert_eq!(s.native_after, ["-weird", "x"]);
    }

    #[test]
    fn graft_escapes() {
        assert_eq!(graft("a\\=b=c\\\\d"), (Some("a=b".into()), "c\\d".into()));
        assert_eq!(graft("/x=/y=z"), (Some("/x".into()), "/y=z".into()));
        assert_eq!(graft("plain"), (None, "plain".into()));
    }
}
