//! The system area: MBR, GPT, Apple partition map, isohybrid detection.
