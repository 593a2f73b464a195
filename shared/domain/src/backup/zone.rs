//! Route53 zone documents (filled in by the zone backup work).
