//! The runtime half of the DSL's stateful operators: what generated code
//! calls to read and write its stores, through the record cache or not, and
//! to emit final results. Each module serves one family of operators of the
//! compiler (`codegen/src/ops/`); all take the task's stores by the plan's
//! store index ([`crate::store::TaskStores`]).

pub mod cached;
pub mod kv;
pub mod session;
pub mod suppress;
pub mod window;
