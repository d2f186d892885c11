//! userimport, as a library: the engine behind "download template → edit in
//! Excel → upload and check → execute → results".
//!
//! This crate re-exports the component crates and will own the pipeline that
//! wires them.
#![deny(missing_docs)]

pub use userimport_parse as parse;
pub use userimport_plan as plan;
pub use userimport_schema as schema;
pub use userimport_sink as sink;
pub use userimport_validate as validate;
