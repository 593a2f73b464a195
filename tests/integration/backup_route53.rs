//! Emulator tests of the route53 backup adapter.
