//! ECS configuration documents (filled in by the ECS backup work).
