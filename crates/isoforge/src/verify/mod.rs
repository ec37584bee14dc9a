//! Integrity checks: digests, SUMS files and their signatures, isomd5sum.
