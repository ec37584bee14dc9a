//! The help and version texts of the mkisofs front end. Build tools probe
//! the help for option names: grub-mkrescue runs `xorriso -as mkisofs
//! -help` and looks in its standard error for `grub2-boot-info`; without it
//! the image it makes cannot boot from a disk.

/// The help, written to standard error as mkisofs does.
pub const HELP: &str = "\
Usage: mkisofs [options] [-o FILE] PATHSPEC...
       (isoforge's front end speaking the language of xorriso -as mkisofs,
       genisoimage and mkisofs; the same binary answers as xorriso, xorrisofs,
       genisoimage and mkisofs when called by those names:
       `isoforge install-links DIR` makes the links.)
Options:
  -o FILE, -output FILE       Write the image to FILE ('-' or none: standard output)
  -V ID, -volid ID            Volume id (32 characters at most; longer is refused)
  -A ID, -appid ID            Application id
  -p ID, -preparer ID         Preparer id
  -publisher ID               Publisher id
  -sysid ID                   System id
  -volset ID                  Volume set id
  -copyright F, -abstract F, -biblio F   File ids of the primary descriptor
  --modification-date=YYYYMMDDhhmmsscc   Volume modification date
  --reproducible              Same input, same bytes (also by SOURCE_DATE_EPOCH)
  -quiet                      Print no warnings or progress
  -v                          Print notes
  -print-size                 Print the image size in 2048-byte blocks and stop
  -R, -rock                   Rock Ridge (always written unless --norock)
  -r, -rational-rock          Rock Ridge with owners 0 and modes a+r, a+x if any x, no w
  --norock                    No Rock Ridge
  -J, -joliet                 Joliet tree (64-character names)
  -joliet-long                Joliet tree with 103-character names
  -l, -full-iso9660-filenames 31-character ISO 9660 names
  -iso-level 1|2|3|4          ISO level (default 1; 3: files of 4 GiB and more; 4: ISO 9660:1999)
  -U, -N, -relaxed-filenames, -allow-lowercase, -allow-multidot, -allow-leading-dots
                              Accepted; ISO 9660 names stay strict (noted)
  -D, -disable-deep-relocation  Keep directories deeper than 8 levels in place
  -cache-inodes, -no-cache-inodes  Accepted (hard links are always kept)
  -input-charset, -output-charset UTF-8   Accepted for UTF-8 only
  -graft-points               PATHSPECs may be ISO_PATH=HOST_PATH (\\= and \\\\ escape)
  -path-list FILE             Read PATHSPECs from FILE, one a line
  -m GLOB, -exclude GLOB, -x GLOB   Leave out names (or host paths) matching GLOB
  -exclude-list FILE          Read -m globs from FILE, one a line
  --sort-weight N PATH        Accepted; isoforge orders file data itself
El Torito boot:
  -b PATH, -eltorito-boot PATH   BIOS boot image (path in the image)
  -c PATH, -eltorito-catalog PATH  Boot catalog path
  --boot-catalog-hide         Keep the boot catalog out of the tree
  -no-emul-boot               No emulation (default: floppy emulation)
  -hard-disk-boot             Hard disk emulation
  -boot-load-size N           512-byte sectors to load
  -boot-load-seg SEG          Load segment
  -boot-info-table            Patch a boot info table into the boot image
  --grub2-boot-info           Patch GRUB2 boot info into the boot image (grub2-boot-info)
  -eltorito-alt-boot          Start the next boot entry
  -eltorito-platform x86|efi|PPC|Mac|0xNN   Platform of the entry
  -e PATH, --efi-boot PATH    UEFI boot image (path in the image)
  -e --interval:appended_partition_N:all::   UEFI boot image = appended partition N
Hybrid (disk) layouts:
  -isohybrid-mbr FILE         isohybrid MBR template (isolinux's isohdpfx.bin)
  -isohybrid-gpt-basdat       GPT with the UEFI boot image as a partition
  -isohybrid-gpt-hfsplus      As -isohybrid-gpt-basdat
  -isohybrid-apm-hfsplus      Apple partition map
  -hfsplus, -hfsplus-file-creator-type, -hfs-bless-by, -hfs-bless
                              Accepted with a warning: no HFS+ is written
  --grub2-mbr FILE            GRUB2 MBR template (boot_hybrid.img)
  --protective-msdos-label    Protective MBR partition
  -efi-boot-part --efi-boot-image   GPT partition for the UEFI boot image
  -partition_offset N         Partition with its own descriptors from block N (0, 16+)
  -partition_cyl_align on|off|all, -partition_hd_cyl N, -partition_sec_hd N, -apm-block-size N
                              Accepted (isoforge aligns its own way)
  --mbr-force-bootable        A bootable MBR partition even when none is
  -append_partition N TYPE FILE   Append FILE as partition N of MBR type TYPE
  -appended_part_as_gpt       List appended partitions in a GPT
  -iso_mbr_part_type T        MBR type of the partition over the ISO
  -G FILE, -generic-boot FILE System area (first 32 KiB) from FILE
  -pad, -no-pad               Accepted
Refused with a message: -udf, -allow-limited-size (until UDF is written here),
  -chrp-boot, -prep-boot-part, -mips-boot, -mipsel-boot, -sparc-boot,
  --grub2-sparc-core, -hfs, -jigdo-*, -md5-list,
  -hide, -hide-joliet (not yet).
  -help, --help               This text (on standard error)
  -version                    Version line
";

/// The version line, in the form of the program named.
pub fn version(name: &str) -> String {
    let v = env!("CARGO_PKG_VERSION");
    match name {
        "genisoimage" => format!("genisoimage 1.1.11 (Linux; isoforge {v})"),
        "xorriso" => {
            format!("xorriso 1.5.4 : RockRidge filesystem manipulator, isoforge {v}")
        }
        _ => format!("mkisofs 2.01-Emulation Copyright (C) 2026 isoforge {v}"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_help_is_what_grub_mkrescue_probes_for() {
        assert!(super::HELP.contains("grub2-boot-info"));
    }
}
