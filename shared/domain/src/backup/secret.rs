//! Secret documents (filled in by the secrets backup work).
