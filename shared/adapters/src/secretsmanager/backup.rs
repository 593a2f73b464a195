//! Secrets Manager backup and restore (filled in by the secrets backup work).
