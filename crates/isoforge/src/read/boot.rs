//! El Torito boot catalogs.
