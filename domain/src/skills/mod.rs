//! Skills: assets, versions, who may see and run them.

pub mod manifest;
