//! A service's deployment record (defined with the deployment machine in
//! [`crate::deploy::record`], which it belongs to); re-exported here under the name the rest of
//! the suite reads it by.

pub use crate::deploy::record::*;
