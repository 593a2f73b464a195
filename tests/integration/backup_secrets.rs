//! Emulator tests of the secrets backup adapter.
