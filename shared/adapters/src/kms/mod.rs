//! KMS envelope encryption (filled in by the secrets backup work).
