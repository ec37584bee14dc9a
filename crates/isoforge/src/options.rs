//! Options for reading images, and the limits that bound work on hostile input.

/// Which name space (directory hierarchy) of an image to present.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum View {
    /// Rock Ridge if present, else UDF, else Joliet, else ISO 9660:1999,
    /// else plain ISO 9660; but UDF before Rock Ridge when the ISO 9660 tree
    /// is a placeholder or lacks entries or sizes that the UDF tree has (see
    /// [`crate::Image::auto_view`]).
    #[default]
    Auto,
    /// The primary volume descriptor's tree with its plain ISO 9660 names.
    Iso9660,
    /// The Joliet supplementary volume descriptor's tree.
    Joliet,
    /// The primary tree with Rock Ridge names and attributes.
    #[serde(rename = "rockridge")]
    RockRidge,
    /// The ISO 9660:1999 enhanced volume descriptor's tree.
    #[serde(rename = "iso9660-1999")]
    Enhanced,
    /// The UDF file system.
    Udf,
}

/// How to treat departures from the specifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strictness {
    /// Tolerate what real images get wrong and report it as a diagnostic.
    #[default]
    Tolerant,
    /// Treat tolerated departures as errors.
    Strict,
}

/// Caps on the work done for one image. Defaults are far above any real image
/// and far below what would exhaust memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest directory nesting followed.
    pub max_depth: u32,
    /// Entries in one directory.
    pub max_entries_per_dir: u32,
    /// Entries in the whole walk.
    pub max_total_entries: u64,
    /// Continuation areas followed for one directory record.
    pub max_ce_chain: u32,
    /// Bytes of one Rock Ridge name (NM pieces joined).
    pub max_name_bytes: u32,
    /// Bytes of one symbolic link target (SL pieces joined).
    pub max_symlink_bytes: u32,
    /// Sections of one multi-extent file.
    pub max_extents_per_file: u32,
    /// Entries of one El Torito boot catalog.
    pub max_boot_entries: u32,
    /// Bytes of a path table read.
    pub max_path_table_bytes: u32,
    /// Bytes of one directory extent read.
    pub max_dir_bytes: u32,
    /// Total bytes of directory extents read in one walk.
    pub max_total_dir_bytes: u64,
    /// UDF descriptors read while opening a volume: volume descriptor
    /// sequences (main and reserve, with their pointers), integrity sequence
    /// and file set descriptors together.
    pub max_udf_descriptors: u32,
    /// UDF allocation extent descriptors followed for one file.
    pub max_udf_aed_chain: u32,
    /// UDF indirect entries followed to reach one file entry (strategy 4096
    /// ICBs of write-once media).
    pub max_udf_icb_indirections: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 256,
            max_entries_per_dir: 1 << 20,
            max_total_entries: 10_000_000,
            max_ce_chain: 32,
            max_name_bytes: 1024,
            max_symlink_bytes: 4096,
            max_extents_per_file: 1 << 16,
            max_boot_entries: 1024,
            max_path_table_bytes: 64 << 20,
            max_dir_bytes: 64 << 20,
            max_total_dir_bytes: 4 << 30,
            max_udf_descriptors: 4096,
            max_udf_aed_chain: 1 << 16,
            max_udf_icb_indirections: 1024,
        }
    }
}

/// Options for [`crate::Image::open_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Strict or tolerant reading.
    pub strictness: Strictness,
    /// Work limits.
    pub limits: Limits,
}

impl ReadOptions {
    /// Sets the strictness.
    pub fn strictness(mut self, s: Strictness) -> Self {
        self.strictness = s;
        self
    }
    /// Sets the limits.
    pub fn limits(mut self, l: Limits) -> Self {
        self.limits = l;
        self
    }
}
