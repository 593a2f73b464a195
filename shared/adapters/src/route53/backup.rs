//! Route53 zone backup and restore (filled in by the zone backup work).
