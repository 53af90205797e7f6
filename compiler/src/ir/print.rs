//! The textual form of the IR.
//!
//! Values are renumbered `%0, %1, ...` in order of definition (parameters
//! first), so printing is canonical: two functions that differ only in
//! arena layout print the same, and `read_function(print_function(f))`
//! prints identically to `f`. Origins are not printed.
//!
//! ```text
//! func @square_plus_one(%0: f64) -> (f64) {
//!   %1 = mul %0, %0 : f64
//!   %2 = const 1.0 : f64
//!   %3 = add %1, %2 : f64
//!   return %3
//! }
//! ```

use super::{Function, Op, OpKind, Region, ValueId};
use crate::prim::Prim;
use std::collections::HashMap;
use std::fmt::Write;

struct Printer<'f> {
    func: &'f Function,
    names: HashMap<ValueId, usize>,
    out: String,
}

impl Printer<'_> {
    fn name(&mut self, v: ValueId) -> String {
        let next = self.names.len();
        let n = *self.names.entry(v).or_insert(next);
        format!("%{n}")
    }

    fn names(&mut self, vs: &[ValueId]) -> String {
        vs.iter()
            .map(|&v| self.name(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn typed_params(&mut self, vs: &[ValueId]) -> String {
        vs.iter()
            .map(|&v| format!("{}: {}", self.name(v), self.func.ty(v)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn region(&mut self, region: &Region, indent: usize) {
        let pad = "  ".repeat(indent);
        if !region.params.is_empty() {
            let params = self.typed_params(&region.params);
            let _ = writeln!(self.out, "{pad}({params}):");
        }
        for &id in &region.ops {
            self.op(self.func.op(id), indent);
        }
        let results = self.names(&region.results);
        if results.is_empty() {
            let _ = writeln!(self.out, "{pad}yield");
        } else {
            let _ = writeln!(self.out, "{pad}yield {results}");
        }
    }

    fn op(&mut self, op: &Op, indent: usize) {
        let pad = "  ".repeat(indent);
        let args = self.names(&op.args);
        let results = self.names(&op.results);
        let types = op
            .results
            .iter()
            .map(|&v| self.func.ty(v).to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let lhs = if results.is_empty() {
            String::new()
        } else {
            format!("{results} = ")
        };
        let head = op_head(op);
        let sep = if args.is_empty() { "" } else { " " };
        let ty_suffix = if types.is_empty() {
            String::new()
        } else {
            format!(" : {types}")
        };
        match &op.kind {
            OpKind::If => {
                let _ = writeln!(self.out, "{pad}{lhs}if {args}{ty_suffix} {{");
                self.region(&op.regions[0], indent + 1);
                let _ = writeln!(self.out, "{pad}}} else {{");
                self.region(&op.regions[1], indent + 1);
                let _ = writeln!(self.out, "{pad}}}");
            }
            OpKind::For { .. } => {
                let _ = writeln!(self.out, "{pad}{lhs}{head}{sep}{args}{ty_suffix} {{");
                self.region(&op.regions[0], indent + 1);
                let _ = writeln!(self.out, "{pad}}}");
            }
            _ => {
                let _ = writeln!(self.out, "{pad}{lhs}{head}{sep}{args}{ty_suffix}");
            }
        }
    }
}

/// The operation's name with its attributes, e.g. `guard<positive, "x">`.
pub(super) fn op_head(op: &Op) -> String {
    match &op.kind {
        OpKind::Prim(p) => prim_head(p),
        OpKind::If => "if".into(),
        OpKind::For { stacked } => format!("for<stacked={stacked}>"),
        OpKind::Sample(s) => {
            let mut attrs = vec![
                s.dist.name().to_string(),
                format!("site={}", s.site),
                s.strategy.name().to_string(),
            ];
            if s.explicit_strategy {
                attrs.push("explicit".into());
            }
            if s.has_baseline {
                attrs.push("baseline".into());
            }
            if s.detached {
                attrs.push("detached".into());
            }
            format!("sample<{}>", attrs.join(", "))
        }
        OpKind::AddCost => "add_cost".into(),
        OpKind::Draw {
            dist,
            site,
            stream,
            num_params,
            batch: 0,
        } => format!("draw<{dist}, site={site}, stream={stream}, params={num_params}>"),
        OpKind::Draw {
            dist,
            site,
            stream,
            num_params,
            batch,
        } => format!(
            "draw<{dist}, site={site}, stream={stream}, params={num_params}, batch={batch}>"
        ),
        OpKind::EnumValue { site, boolean } => {
            if *boolean {
                format!("enum_value<site={site}, bool>")
            } else {
                format!("enum_value<site={site}>")
            }
        }
        OpKind::MvdValue {
            dist,
            site,
            num_params,
        } => format!("mvd_value<{dist}, site={site}, params={num_params}>"),
        OpKind::MvdCotangent { site } => format!("mvd_cotangent<site={site}>"),
        OpKind::Subsample { n, m } => format!("subsample<n={n}, m={m}>"),
    }
}

fn prim_head(p: &Prim) -> String {
    match p {
        Prim::ConstF64(x) => format!("const {x:?}"),
        Prim::ConstI64(x) => format!("const {x}"),
        Prim::ConstBool(x) => format!("const {x}"),
        Prim::ConstTensor { shape, data } => {
            let dims = shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            let elems = data
                .iter()
                .map(|x| format!("{x:?}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!("const_tensor<[{dims}] {elems}>")
        }
        Prim::Polygamma(n) => format!("polygamma<{n}>"),
        Prim::Broadcast(shape) => {
            let dims = shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            format!("broadcast<{dims}>")
        }
        Prim::Reshape(shape) => {
            let dims = shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(",");
            format!("reshape<{dims}>")
        }
        Prim::Slice { start, len } => format!("slice<start={start}, len={len}>"),
        Prim::Reduce { op, axis } => format!("{}<{axis}>", op.prim_name()),
        Prim::Expand { axis, n } => format!("expand<axis={axis}, n={n}>"),
        Prim::Guard { kind, what } => format!("guard<{}, {what:?}>", kind.name()),
        Prim::Host { id, arity } => format!("host<id={id}, arity={arity}>"),
        Prim::HostPartial { id, arity, wrt } => {
            format!("host_partial<id={id}, arity={arity}, wrt={wrt}>")
        }
        other => other.name().to_string(),
    }
}

/// Prints `func` in the canonical textual form.
pub fn print_function(func: &Function) -> String {
    let mut p = Printer {
        func,
        names: HashMap::new(),
        out: String::new(),
    };
    let params = p.typed_params(&func.body.params);
    let results = func
        .result_types()
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(p.out, "func @{}({params}) -> ({results}) {{", func.name);
    for &id in &func.body.ops {
        p.op(func.op(id), 1);
    }
    let ret = p.names(&func.body.results);
    if ret.is_empty() {
        let _ = writeln!(p.out, "  return");
    } else {
        let _ = writeln!(p.out, "  return {ret}");
    }
    p.out.push_str("}\n");
    p.out
}
