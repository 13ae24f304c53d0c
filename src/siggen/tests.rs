//! Tests of the whole generator (placeholder).
