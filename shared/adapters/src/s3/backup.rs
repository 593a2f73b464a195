//! Backup bucket and source copies (filled in by the backup function work).
