//! Parse + check + compile of `examples/cone.vprog`, everything `vprog run`
//! does before its first training step: parsing the file and the standard
//! library module it imports, type checking, and for each of its ten
//! statements (five `fit`s, five `report`s) lowering, ADEV, reverse-mode
//! AD, simplification and Cranelift code generation of the estimator and
//! gradient programs. The target is under 100 ms.
//!
//! ```text
//! cargo bench --bench compile_cone
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use vprog::compiler::lower::{CompiledValue, Statement};
use vprog::runtime::backend::{Backend, Prepared};

/// Loads and compiles the whole example; returns how many programs the
/// JIT compiled (all of them, or the benchmark measures the wrong thing).
fn compile(text: &str) -> usize {
    let mut sources = vprog::lang::SourceMap::new();
    let program = vprog::load(&mut sources, "cone.vprog", text)
        .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &d, false)));
    let mut compiled = 0;
    for statement in program.statements().expect("statements") {
        let objective = match statement {
            Statement::Fit(spec) => program
                .compile_objective(spec.item, &spec.name, &spec.objective)
                .expect("objective"),
            Statement::Report(spec) => match program
                .compile_value(spec.item, &spec.name, &spec.expr)
                .expect("report")
            {
                CompiledValue::Estimate { objective, .. } => *objective,
                CompiledValue::Value(_) => continue,
            },
        };
        let prepared = Prepared::new(objective, Backend::Jit);
        assert!(prepared.is_compiled(), "{:?}", prepared.fallback);
        compiled += 2;
        black_box(prepared);
    }
    compiled
}

fn compile_cone(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cone.vprog");
    let text = std::fs::read_to_string(path).expect("read examples/cone.vprog");
    assert_eq!(compile(&text), 20, "ten statements, two programs each");
    c.bench_function("compile_cone", |b| b.iter(|| compile(black_box(&text))));
}

criterion_group!(benches, compile_cone);
criterion_main!(benches);
