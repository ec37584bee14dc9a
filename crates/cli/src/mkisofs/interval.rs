//! xorriso's `--interval:local_fs:RANGE:FLAGS:PATH` data sources, which
//! `-report_el_torito as_mkisofs` prints to take a system area or an
//! appended partition from an existing image: RANGE is `START-END` in
//! bytes, or with a suffix `d` (512-byte blocks) or `s` (2048-byte blocks),
//! END included; FLAGS may zero the partition tables a template carries
//! (`zero_mbrpt`, `zero_gpt`, `zero_apm`), which isoforge writes anew.

use std::io::{Read, Seek, SeekFrom};

use anyhow::{bail, Context};

/// Largest interval read (an appended partition such as an EFI system
/// partition image; 4 GiB is far above any).
const MAX_LEN: u64 = 4 << 30;

fn offset(v: &str, what: &str) -> anyhow::Result<u64> {
    let (num, unit) = match v.char_indices().last() {
        Some((i, 'd')) => (&v[..i], 512),
        Some((i, 's')) => (&v[..i], 2048),
        _ => (v, 1),
    };
    let n: u64 = num.parse().with_context(|| {
        format!(
            "{what}: {v:?} is not a number of bytes, 512-byte blocks (d) or 2048-byte blocks (s)"
        )
    })?;
    n.checked_mul(unit)
        .with_context(|| format!("{what}: {v} is out of range"))
}

/// Whether `v` is an interval source.
pub fn is_interval(v: &str) -> bool {
    v.starts_with("--interval:")
}

/// The bytes an interval source names.
pub fn read(v: &str, what: &str) -> anyhow::Result<Vec<u8>> {
    let Some(rest) = v.strip_prefix("--interval:local_fs:") else {
        bail!("{what} {v}: of the --interval forms only local_fs (and appended_partition_N with -e) are supported");
    };
    let mut parts = rest.splitn(3, ':');
    let (Some(range), Some(flags), Some(path)) = (parts.next(), parts.next(), parts.next()) else {
        bail!("{what} {v}: not --interval:local_fs:START-END:FLAGS:PATH");
    };
    let path = path
        .strip_prefix('\'')
        .and_then(|p| p.strip_suffix('\''))
        .unwrap_or(path);
    let (a, b) = range
        .split_once('-')
        .with_context(|| format!("{what} {v}: the range is not START-END"))?;
    let (start, end) = (offset(a, what)?, offset(b, what)?);
    // END is the first byte of its last block: the block is included.
    let unit = match b.chars().last() {
        Some('d') => 512,
        Some('s') => 2048,
        _ => 1,
    };
    let end = end
        .checked_add(unit)
        .with_context(|| format!("{what} {v}: the range is out of bounds"))?;
    if end <= start || end - start > MAX_LEN {
        bail!("{what} {v}: the range is empty or larger than 4 GiB");
    }
    let mut f = std::fs::File::open(path).with_context(|| format!("{what}: cannot open {path}"))?;
    let size = f.metadata()?.len();
    if end > size {
        bail!("{what} {v}: {path} is {size} bytes, shorter than the range");
    }
    f.seek(SeekFrom::Start(start))?;
    let len = usize::try_from(end - start)?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf)
        .with_context(|| format!("{what}: reading {path}"))?;
    for flag in flags.split(',').filter(|f| !f.is_empty()) {
        match flag {
            "zero_mbrpt" => zero(&mut buf, 446, 510),
            "zero_gpt" => {
                if buf.get(512..520) == Some(b"EFI PART") {
                    // The partition entries too, where the header puts
                    // them: LBA at bytes 72-79, count at 80-83, entry size
                    // at 84-87.
                    let le = |a: usize, n: usize| -> u64 {
                        buf.get(512 + a..512 + a + n).map_or(0, |b| {
                            b.iter().rev().fold(0u64, |v, &x| (v << 8) | u64::from(x))
                        })
                    };
                    let (lba, count, size) = (le(72, 8), le(80, 4), le(84, 4));
                    let from = lba.saturating_mul(512);
                    let to = from.saturating_add(count.saturating_mul(size));
                    if let (Ok(f), Ok(t)) = (usize::try_from(from), usize::try_from(to)) {
                        zero(&mut buf, f, t);
                    }
                    zero(&mut buf, 512, 1024);
                }
            }
            "zero_apm" => {
                // Apple partition map entries ("PM") in 2048-byte blocks
                // after block 0.
                let mut at = 2048;
                while buf.get(at..at + 2) == Some(b"PM") {
                    zero(&mut buf, at, at + 2048);
                    at += 2048;
                }
            }
            _ => bail!("{what} {v}: unknown flag {flag} (zero_mbrpt, zero_gpt, zero_apm)"),
        }
    }
    Ok(buf)
}

fn zero(buf: &mut [u8], from: usize, to: usize) {
    if let Some(s) = buf.get_mut(from..to.min(buf.len())) {
        s.fill(0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_flags() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("img");
        let mut data = vec![7u8; 8192];
        data[512..520].copy_from_slice(b"EFI PART");
        std::fs::write(&p, &data).unwrap();
        let v = format!(
            "--interval:local_fs:0s-0s:zero_mbrpt,zero_gpt:'{}'",
            p.display()
        );
        let b = read(&v, "-G").unwrap();
        assert_eq!(b.len(), 2048);
        assert_eq!(b[445], 7);
        assert!(b[446..510].iter().all(|&x| x == 0));
        assert!(b[512..1024].iter().all(|&x| x == 0));
        let v = format!("--interval:local_fs:2d-3d::{}", p.display());
        assert_eq!(read(&v, "x").unwrap().len(), 1024);
        let v = format!("--interval:local_fs:0s-9s::{}", p.display());
        assert!(read(&v, "x").unwrap_err().to_string().contains("shorter"));
        assert!(read("--interval:imported_iso:0s-1s::x", "x").is_err());
    }
}
