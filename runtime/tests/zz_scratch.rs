use vprog_compiler::ir::{print_function, read_function};
use vprog_compiler::transform::{simplify::simplify, vjp::vjp};
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::rng::RunKey;
use vprog_runtime::value::Value;
#[test]
fn show() {
    let f = read_function(
        "
func @dynamic(%x: f64, %lo: i64, %hi: i64) -> (f64, f64[?], f64) {
  %one = const 1.0 : f64
  %zero = const 0.0 : f64
  %p, %s, %ys = for<stacked=1> %lo, %hi, %one, %zero : f64, f64, f64[?] {
    (%i: i64, %acc: f64, %sum: f64):
    %fi = int_to_f64 %i : f64
    %t = add %x, %fi : f64
    %next = mul %acc, %t : f64
    %c = cos %t : f64
    %more = add %sum, %c : f64
    yield %next, %more, %c
  }
  return %p, %ys, %s
}",
    )
    .unwrap();
    let v = vjp(&f, &[true, false, false], &[true, true, true]).unwrap();
    println!("{}", print_function(&simplify(&v)));
    for (lo, hi) in [(0, 0), (0, 1), (0, 4), (2, 5), (3, 1)] {
        let n = (hi - lo).max(0) as usize;
        let r = run(
            &v,
            &[
                Value::F(0.3),
                Value::I(lo),
                Value::I(hi),
                Value::F(1.0),
                Value::vector(vec![1.0; n]),
                Value::F(1.0),
            ],
            &mut RunContext::new(RunKey::new(0, 0, 0)),
        );
        println!("{lo},{hi}: {:?}", r.map(|r| r[3].clone()));
    }
}
