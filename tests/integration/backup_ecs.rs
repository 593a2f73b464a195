//! Emulator tests of the ecs backup adapter.
