//! Safe extraction into a host directory.
