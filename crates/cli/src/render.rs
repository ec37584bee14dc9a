//! Shared rendering helpers for text and JSON output.
