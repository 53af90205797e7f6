//! The frame layout of a compiled function: one fixed slot per tensor value.
//!
//! Shapes are static, so every tensor value the function defines — an
//! operation's result or a region parameter — gets a fixed byte offset in a
//! per-call frame, and each `for` loop gets a second slot per tensor carry
//! (the next iteration's value is written there first, then copied over the
//! parameter, so carries that swap cannot clobber each other). Values
//! defined in a loop body reuse their slot every iteration; values that
//! leave the body do so through carries and stacked outputs, which have
//! slots of their own.

use super::{Unsupported, byte_size};
use std::collections::HashMap;
use vprog_compiler::ir::{Function, OpId, OpKind, Region, ValueId};

/// The frame layout.
pub(super) struct Layout {
    /// Byte offsets of tensor values.
    pub slots: HashMap<ValueId, u32>,
    /// Byte offsets of the "next" slots of tensor carries, by loop and carry.
    pub next: HashMap<(OpId, usize), u32>,
    /// The frame's size in bytes.
    pub size: usize,
}

impl Layout {
    fn alloc(&mut self, bytes: usize) -> u32 {
        let at = self.size;
        self.size += bytes.div_ceil(8) * 8;
        at as u32
    }

    fn value(&mut self, f: &Function, v: ValueId) -> Result<(), Unsupported> {
        let ty = f.ty(v);
        if ty.is_scalar() {
            return Ok(());
        }
        let bytes = byte_size(ty).ok_or_else(|| Unsupported {
            reason: format!("value #{} has a dynamic shape {ty}", v.0),
        })?;
        let at = self.alloc(bytes);
        self.slots.insert(v, at);
        Ok(())
    }

    fn region(&mut self, f: &Function, region: &Region) -> Result<(), Unsupported> {
        for &p in &region.params {
            self.value(f, p)?;
        }
        for &id in &region.ops {
            let op = f.op(id);
            for r in &op.regions {
                self.region(f, r)?;
            }
            for &r in &op.results {
                self.value(f, r)?;
            }
            if let OpKind::For { .. } = op.kind {
                let body = &op.regions[0];
                for (k, &p) in body.params[1..].iter().enumerate() {
                    if !f.ty(p).is_scalar() {
                        let bytes = byte_size(f.ty(p)).unwrap_or(0);
                        let at = self.alloc(bytes);
                        self.next.insert((id, k), at);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Lays out `f`'s frame. The function's own parameters are read from the
/// input buffer and need no slots.
pub(super) fn layout(f: &Function) -> Result<Layout, Unsupported> {
    let mut l = Layout {
        slots: HashMap::new(),
        next: HashMap::new(),
        size: 0,
    };
    let body = Region {
        params: Vec::new(),
        ops: f.body.ops.clone(),
        results: Vec::new(),
    };
    l.region(f, &body)?;
    Ok(l)
}
