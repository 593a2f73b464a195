//! ECS configuration backup and restore (filled in by the ECS backup work).
