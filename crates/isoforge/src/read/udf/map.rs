//! Partition maps at work: where a logical block of a partition of the
//! logical volume is in the image. Type 1 partitions map directly; sparable
//! partitions remap whole packets through the sparing table; virtual
//! partitions map each block through the VAT; metadata partitions are the
//! contents of the metadata file (or of its mirror).

use isoforge_format::udf::vat::UNMAPPED;
use isoforge_format::udf::LbAddr;

use crate::error::{Error, Result};
use crate::read::DataRun;

/// A partition of the volume: its first sector and length in sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phys {
    pub start: u32,
    pub len: u32,
}

/// One extent of the metadata file: metadata blocks `first..first+blocks`
/// are blocks `under..` of the underlying partition, or zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetaExtent {
    pub first: u64,
    pub blocks: u64,
    pub under: Option<u32>,
}

/// Which copy of the metadata to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copy {
    Main,
    Mirror,
}

/// A partition map, resolved.
#[derive(Debug, Clone)]
pub(crate) enum Map {
    Physical(Phys),
    Sparable {
        phys: Phys,
        packet: u32,
        /// (original packet, partition-relative; mapped sector), sorted.
        table: Vec<(u32, u32)>,
    },
    Virtual {
        phys: Phys,
        vat: Vec<u32>,
    },
    Metadata {
        /// Index of the map of the partition the metadata file lives in.
        under: u16,
        main: Option<Vec<MetaExtent>>,
        mirror: Option<Vec<MetaExtent>>,
    },
    /// A map that cannot be used; the text says why.
    Unusable(String),
}

/// Appends a run, merging it with the previous one when they are adjacent.
pub(crate) fn push_run(out: &mut Vec<DataRun>, run: DataRun, cap: usize) -> Result<()> {
    if run.len == 0 {
        return Ok(());
    }
    if let Some(last) = out.last_mut() {
        let adjacent = match (last.offset, run.offset) {
            (Some(a), Some(b)) => a.checked_add(last.len) == Some(b),
            (None, None) => true,
            _ => false,
        };
        if adjacent {
            last.len = last.len.saturating_add(run.len);
            return Ok(());
        }
    }
    if out.len() >= cap {
        return Err(Error::LimitExceeded {
            what: "extents of one file",
            value: out.len() as u64 + 1,
            limit: cap as u64,
        });
    }
    out.push(run);
    Ok(())
}

/// Maps blocks to image byte ranges.
pub(crate) struct Mapper<'a> {
    pub maps: &'a [Map],
    pub block: u32,
}

impl Mapper<'_> {
    fn map(&self, p: u16) -> Result<&Map> {
        self.maps.get(usize::from(p)).ok_or_else(|| {
            Error::corrupt(
                "UDF allocation descriptor",
                0,
                format!("partition reference number {p} names no partition map"),
            )
        })
    }

    fn bs(&self) -> u64 {
        u64::from(self.block)
    }

    /// Appends the runs holding `len` bytes from logical block `addr`.
    pub fn runs(
        &self,
        addr: LbAddr,
        len: u64,
        copy: Copy,
        out: &mut Vec<DataRun>,
        cap: usize,
    ) -> Result<()> {
        self.runs_depth(addr, len, copy, out, cap, 0)
    }

    fn phys_run(
        &self,
        p: Phys,
        first: u64,
        blocks: u64,
        left: &mut u64,
        out: &mut Vec<DataRun>,
        cap: usize,
    ) -> Result<()> {
        if first.saturating_add(blocks) > u64::from(p.len) {
            // Offset 0: the caller places the error at the descriptor that
            // named the extent.
            return Err(Error::corrupt(
                "UDF allocation descriptor",
                0,
                format!(
                    "blocks {first}..{} lie past the end of the partition ({} blocks)",
                    first.saturating_add(blocks),
                    p.len
                ),
            ));
        }
        self.sector_run(
            u64::from(p.start).saturating_add(first),
            blocks,
            left,
            out,
            cap,
        )
    }

    fn sector_run(
        &self,
        sector: u64,
        blocks: u64,
        left: &mut u64,
        out: &mut Vec<DataRun>,
        cap: usize,
    ) -> Result<()> {
        let n = blocks.saturating_mul(self.bs()).min(*left);
        let off = sector.checked_mul(self.bs()).ok_or_else(|| {
            Error::corrupt(
                "UDF allocation descriptor",
                0,
                format!("sector {sector} overflows"),
            )
        })?;
        *left -= n;
        push_run(
            out,
            DataRun {
                offset: Some(off),
                len: n,
            },
            cap,
        )
    }

    fn runs_depth(
        &self,
        addr: LbAddr,
        len: u64,
        copy: Copy,
        out: &mut Vec<DataRun>,
        cap: usize,
        depth: u8,
    ) -> Result<()> {
        if depth > 2 {
            return Err(Error::corrupt(
                "UDF partition map",
                0,
                "metadata partitions nested in each other",
            ));
        }
        let blocks = len.div_ceil(self.bs());
        let first = u64::from(addr.block);
        let end = first.saturating_add(blocks);
        let mut left = len;
        match self.map(addr.partition)? {
            Map::Physical(p) => self.phys_run(*p, first, blocks, &mut left, out, cap),
            Map::Sparable {
                phys,
                packet,
                table,
            } => {
                if end > u64::from(phys.len) {
                    return self.phys_run(*phys, first, blocks, &mut left, out, cap);
                }
                let packet = u64::from(*packet).max(1);
                let lo = first - first % packet;
                let start = table.partition_point(|&(o, _)| u64::from(o) < lo);
                let mut pos = first;
                for &(o, m) in table.get(start..).unwrap_or_default() {
                    let o = u64::from(o);
                    if o >= end {
                        break;
                    }
                    let from = o.max(pos);
                    let to = o.saturating_add(packet).min(end);
                    if from >= to {
                        continue;
                    }
                    if from > pos {
                        self.phys_run(*phys, pos, from - pos, &mut left, out, cap)?;
                    }
                    self.sector_run(u64::from(m) + (from - o), to - from, &mut left, out, cap)?;
                    pos = to;
                }
                if pos < end {
                    self.phys_run(*phys, pos, end - pos, &mut left, out, cap)?;
                }
                Ok(())
            }
            Map::Virtual { phys, vat } => {
                for b in first..end {
                    let v = usize::try_from(b)
                        .ok()
                        .and_then(|i| vat.get(i))
                        .copied()
                        .filter(|&v| v != UNMAPPED)
                        .ok_or_else(|| {
                            Error::corrupt(
                                "UDF virtual partition",
                                0,
                                format!("virtual block {b} is not in the VAT"),
                            )
                        })?;
                    self.phys_run(*phys, u64::from(v), 1, &mut left, out, cap)?;
                }
                Ok(())
            }
            Map::Metadata {
                under,
                main,
                mirror,
            } => {
                let exts = match copy {
                    Copy::Mirror => mirror.as_ref().or(main.as_ref()),
                    Copy::Main => main.as_ref().or(mirror.as_ref()),
                }
                .ok_or_else(|| {
                    Error::corrupt(
                        "UDF metadata partition",
                        0,
                        "neither the metadata file nor its mirror could be read",
                    )
                })?;
                let mut pos = first;
                while pos < end {
                    let i = exts.partition_point(|e| e.first.saturating_add(e.blocks) <= pos);
                    let e = exts.get(i).filter(|e| e.first <= pos).ok_or_else(|| {
                        Error::corrupt(
                            "UDF metadata partition",
                            0,
                            format!("block {pos} lies past the end of the metadata file"),
                        )
                    })?;
                    let n = (e.first + e.blocks).min(end) - pos;
                    let bytes = n.saturating_mul(self.bs()).min(left);
                    match e.under {
                        Some(u) => {
                            let b = u64::from(u) + (pos - e.first);
                            let b = u32::try_from(b).map_err(|_| {
                                Error::corrupt(
                                    "UDF metadata partition",
                                    0,
                                    "block number overflows",
                                )
                            })?;
                            self.runs_depth(
                                LbAddr {
                                    partition: *under,
                                    block: b,
                                },
                                bytes,
                                Copy::Main,
                                out,
                                cap,
                                depth + 1,
                            )?;
                        }
                        None => push_run(
                            out,
                            DataRun {
                                offset: None,
                                len: bytes,
                            },
                            cap,
                        )?,
                    }
                    left -= bytes;
                    pos += n;
                }
                Ok(())
            }
            Map::Unusable(why) => Err(Error::Unsupported(why.clone())),
        }
    }

    /// The byte offset of one logical block.
    pub fn block_offset(&self, addr: LbAddr, copy: Copy) -> Result<u64> {
        let mut v = Vec::new();
        self.runs(addr, self.bs(), copy, &mut v, 2)?;
        match v.first() {
            Some(DataRun {
                offset: Some(o), ..
            }) => Ok(*o),
            _ => Err(Error::corrupt(
                "UDF metadata partition",
                0,
                format!(
                    "block {} of partition {} is not recorded",
                    addr.block, addr.partition
                ),
            )),
        }
    }

    /// Whether reads in partition `p` can fall back to a metadata mirror.
    pub fn has_mirror(&self, p: u16) -> bool {
        matches!(
            self.maps.get(usize::from(p)),
            Some(Map::Metadata {
                main: Some(_),
                mirror: Some(_),
                ..
            })
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(m: &Mapper<'_>, p: u16, block: u32, len: u64) -> Vec<(Option<u64>, u64)> {
        let mut v = Vec::new();
        m.runs(
            LbAddr {
                partition: p,
                block,
            },
            len,
            Copy::Main,
            &mut v,
            100,
        )
        .unwrap();
        v.into_iter().map(|r| (r.offset, r.len)).collect()
    }

    #[test]
    fn every_map_kind() {
        let phys = Phys {
            start: 100,
            len: 1000,
        };
        let maps = vec![
            Map::Physical(phys),
            Map::Sparable {
                phys,
                packet: 4,
                table: vec![(8, 5000)],
            },
            Map::Virtual {
                phys,
                vat: vec![7, 8, 20, UNMAPPED],
            },
            Map::Metadata {
                under: 0,
                main: Some(vec![
                    MetaExtent {
                        first: 0,
                        blocks: 2,
                        under: Some(50),
                    },
                    MetaExtent {
                        first: 2,
                        blocks: 2,
                        under: None,
                    },
                    MetaExtent {
                        first: 4,
                        blocks: 10,
                        under: Some(10),
                    },
                ]),
                mirror: Some(vec![MetaExtent {
                    first: 0,
                    blocks: 20,
                    under: Some(500),
                }]),
            },
        ];
        let m = Mapper {
            maps: &maps,
            block: 512,
        };
        assert_eq!(runs(&m, 0, 3, 1000), [(Some(103 * 512), 1000)]);
        // Packet 8..12 is spared to sector 5000.
        assert_eq!(
            runs(&m, 1, 6, 8 * 512),
            [
                (Some(106 * 512), 1024),
                (Some(5000 * 512), 2048),
                (Some(112 * 512), 1024)
            ]
        );
        assert_eq!(
            runs(&m, 2, 0, 3 * 512),
            [(Some(107 * 512), 1024), (Some(120 * 512), 512)]
        );
        let mut v = Vec::new();
        assert!(m
            .runs(
                LbAddr {
                    partition: 2,
                    block: 3
                },
                512,
                Copy::Main,
                &mut v,
                9
            )
            .is_err());
        assert_eq!(
            runs(&m, 3, 1, 4 * 512 + 10),
            [(Some(151 * 512), 512), (None, 1024), (Some(110 * 512), 522)]
        );
        assert_eq!(
            m.block_offset(
                LbAddr {
                    partition: 3,
                    block: 1
                },
                Copy::Mirror
            )
            .unwrap(),
            601 * 512
        );
        assert!(m.has_mirror(3) && !m.has_mirror(0));
        // Past the partition, past the metadata file, no such map.
        for (p, b) in [(0u16, 999u32), (3, 14), (9, 0)] {
            let mut v = Vec::new();
            assert!(m
                .runs(
                    LbAddr {
                        partition: p,
                        block: b
                    },
                    1024,
                    Copy::Main,
                    &mut v,
                    9
                )
                .is_err());
        }
    }

    #[test]
    fn run_cap() {
        let mut v = Vec::new();
        for i in 0..3u64 {
            let r = push_run(
                &mut v,
                DataRun {
                    offset: Some(i * 10_000),
                    len: 5,
                },
                2,
            );
            assert_eq!(r.is_err(), i == 2);
        }
    }
}
