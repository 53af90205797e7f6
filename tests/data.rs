//! Data loading end to end: `load_csv` and `load_npy` read through the
//! library entry (`vprog::load` and a `Session`, as `vprog run` does) and
//! through the `vprog` command, the loaded values spot-checked with
//! `report`.
//!
//! Each test writes its program and data files into a fresh temporary
//! directory (the `.npy` files with hand-written headers, so the bytes
//! under test are spelled out here) and names the program by its path
//! there, so relative data paths are read from that directory. The
//! rendered diagnostics of the common mistakes (a missing file, ragged
//! rows, a field that is not a number, a header not skipped, a shape that
//! does not match the declaration, a load without a declared type) are in
//! the error corpus, `tests/programs/errors/data_*.vprog`, with their data
//! files beside them; `tests/programs/data_loading.vprog` loads committed
//! fixtures in a model and runs under both back ends (`tests/programs.rs`,
//! `tests/backends.rs`). The readers' own cases (CRLF, byte-order marks,
//! every `.npy` element type, truncations) are unit tests in
//! `compiler/src/data.rs`.

use std::path::PathBuf;
use std::process::Command;
use vprog::lang::{Diagnostic, SourceMap};
use vprog::runtime::session::Session;

mod common;

use common::Reports;

/// A temporary directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vprog-data-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the temporary directory");
        TempDir(dir)
    }

    /// Writes `bytes` to `name` (creating its parent directories).
    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a subdirectory");
        }
        std::fs::write(&path, bytes).expect("write a test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A program's deterministic reports, by name.
type Reported = Vec<(String, Vec<f64>)>;

/// What a program that failed got: its first diagnostic and the rendering.
struct Failure {
    diagnostic: Diagnostic,
    rendered: String,
}

/// Loads `program` as the file `main.vprog` of `dir` and runs it: its
/// reports, or the first diagnostic (of loading, checking or running).
fn run_in(dir: &TempDir, program: &str) -> Result<Reported, Box<Failure>> {
    let path = dir.write("main.vprog", program);
    let mut sources = SourceMap::new();
    let failed = |sources: &SourceMap, diagnostic: Diagnostic| {
        let rendered = vprog::render_diagnostics(sources, std::slice::from_ref(&diagnostic), false);
        Box::new(Failure {
            diagnostic,
            rendered,
        })
    };
    let loaded = vprog::load(&mut sources, &path.display().to_string(), program)
        .map_err(|d| d.into_iter().next().expect("a diagnostic"));
    let program = match loaded {
        Ok(p) => p,
        Err(d) => return Err(failed(&sources, d)),
    };
    if let Some(d) = vprog::check_program(&program).into_iter().next() {
        return Err(failed(&sources, d));
    }
    let mut sink = Reports::default();
    match Session::new(program, 0).run(&mut sink) {
        Ok(()) => Ok(sink.0),
        Err(e) => Err(failed(&sources, vprog::session_error_diagnostic(&e))),
    }
}

/// [`run_in`], which must succeed.
fn reports(dir: &TempDir, program: &str) -> Reported {
    run_in(dir, program).unwrap_or_else(|f| panic!("{}", f.rendered))
}

/// [`run_in`], which must fail: the diagnostic and its rendering.
fn error(dir: &TempDir, program: &str) -> (Diagnostic, String) {
    match run_in(dir, program) {
        Ok(r) => panic!("expected an error, got the reports {r:?}"),
        Err(f) => (f.diagnostic, f.rendered),
    }
}

/// Asserts that the reports are `expected`, by name, exactly (the values
/// are decimal fractions read from text or bytes, not computed).
fn assert_reports(got: &[(String, Vec<f64>)], expected: &[(&str, &[f64])]) {
    let got: Vec<(&str, &[f64])> = got
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect();
    assert_eq!(got, expected);
}

/// A version-1.0 `.npy` file written by hand: the magic string, the
/// version, the header's length (`u16`, little-endian), the header — a
/// Python dict literal, padded with spaces and ended by a newline so that
/// the data starts at a multiple of 64 bytes — and the raw data.
fn npy(descr: &str, fortran_order: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran_order { "True" } else { "False" };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let length = u16::try_from(header.len()).expect("a short header");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// Little-endian `f64` bytes.
fn f64_le(xs: &[f64]) -> Vec<u8> {
    xs.iter().flat_map(|x| x.to_le_bytes()).collect()
}

// ======================================================================
// CSV
// ======================================================================

/// A CSV file with a header line, blank lines, spaces around fields and
/// numbers in several notations, read row-major.
#[test]
fn a_csv_file_is_read_row_major() {
    let dir = TempDir::new("csv");
    dir.write(
        "table.csv",
        "x, y, z\n1, 2.5, -3\n\n4e-1,5 , +6\r\n  7,8,-0.125\n",
    );
    let got = reports(
        &dir,
        r#"let d: real[3, 3] = load_csv("table.csv", header = true);
           report all = d;
           report first_row = d[0];
           report corner = d[2][2];
           report middle = d[1][0];
           report total = sum(d);"#,
    );
    assert_reports(
        &got,
        &[
            ("all", &[1.0, 2.5, -3.0, 0.4, 5.0, 6.0, 7.0, 8.0, -0.125]),
            ("first_row", &[1.0, 2.5, -3.0]),
            ("corner", &[-0.125]),
            ("middle", &[0.4]),
            ("total", &[26.775]),
        ],
    );
}

/// `header = true` skips the first non-empty line unread (even a numeric
/// one); without it (or with `header = false`) every line is data, so a
/// header line is a field that is not a number, E0806, whose help says to
/// skip it. A file with only a header has no data (E0804).
#[test]
fn header_handling() {
    let dir = TempDir::new("header");
    dir.write("numbers.csv", "1,2\n3,4\n");
    dir.write("named.csv", "\nmass,length\n1,2\n3,4\n");
    dir.write("only_header.csv", "mass,length\n\n");
    let got = reports(
        &dir,
        r#"let skipped: real[1, 2] = load_csv("numbers.csv", header = true);
           let kept: real[2, 2] = load_csv("numbers.csv", header = false);
           let default: real[2, 2] = load_csv("numbers.csv");
           let named: real[2, 2] = load_csv("named.csv", header = true);
           report skipped = skipped;
           report kept = kept;
           report default = default;
           report named = named;"#,
    );
    assert_reports(
        &got,
        &[
            ("skipped", &[3.0, 4.0]),
            ("kept", &[1.0, 2.0, 3.0, 4.0]),
            ("default", &[1.0, 2.0, 3.0, 4.0]),
            ("named", &[1.0, 2.0, 3.0, 4.0]),
        ],
    );

    let (d, rendered) = error(
        &dir,
        r#"let d: real[2, 2] = load_csv("named.csv");
           report d = d;"#,
    );
    assert_eq!(d.code, "E0806", "{rendered}");
    // Line numbers count every line of the file, the blank first one too.
    assert!(
        d.message
            .ends_with("named.csv`: line 2, column 1 is not a number: `mass`"),
        "{rendered}"
    );
    assert_eq!(
        d.help.as_deref(),
        Some(r#"if the first line is a header, skip it: `load_csv("named.csv", header = true)`"#)
    );

    let (d, rendered) = error(
        &dir,
        r#"let d: real[1, 2] = load_csv("only_header.csv", header = true);
           report d = d;"#,
    );
    assert_eq!(d.code, "E0804", "{rendered}");
    assert!(
        d.message
            .ends_with("there are no data rows after the header line"),
        "{rendered}"
    );
}

/// A file of one column or one row may be declared as a vector; `int` and
/// `bool` declarations convert integral values and zeros and ones, and
/// reject other values naming the element (E0809).
#[test]
fn vectors_integers_and_booleans() {
    let dir = TempDir::new("kinds");
    dir.write("column.csv", "3\n-1\n4\n");
    dir.write("row.csv", "0.5, 1, 0\n");
    let got = reports(
        &dir,
        r#"let column: real[3] = load_csv("column.csv");
           let as_matrix: real[3, 1] = load_csv("column.csv");
           let row: real[3] = load_csv("row.csv");
           let counts: int[3] = load_csv("column.csv");
           report column = column;
           report as_matrix = as_matrix;
           report row = row;
           report counts = counts;
           report count_sum = counts[0] + counts[1] + counts[2];"#,
    );
    assert_reports(
        &got,
        &[
            ("column", &[3.0, -1.0, 4.0]),
            ("as_matrix", &[3.0, -1.0, 4.0]),
            ("row", &[0.5, 1.0, 0.0]),
            ("counts", &[3.0, -1.0, 4.0]),
            ("count_sum", &[6.0]),
        ],
    );

    let (d, rendered) = error(
        &dir,
        r#"let flags: bool[3] = load_csv("column.csv");
           report flags = flags;"#,
    );
    assert_eq!(d.code, "E0809", "{rendered}");
    assert!(
        d.message
            .ends_with("column.csv`: the element at [0] is 3, which is not 0 or 1"),
        "{rendered}"
    );
}

/// A CSV file is a vector or a matrix; data is an array of numbers
/// (E0801); the path is a string and `header` a boolean (E0802); a load
/// that is not the value of a `let` with a declared type is E0800.
#[test]
fn declarations_and_arguments_are_checked() {
    let dir = TempDir::new("declarations");
    dir.write("m.csv", "1,2\n3,4\n");
    for (program, code) in [
        (r#"let d: real = load_csv("m.csv"); report d = d;"#, "E0801"),
        (
            r#"let d: real[2, 2, 1] = load_csv("m.csv"); report d = d;"#,
            "E0801",
        ),
        (r#"let d: real[2, 2] = load_csv(2); report d = d;"#, "E0802"),
        (
            r#"let d: real[2, 2] = load_csv("m.csv", header = 1); report d = d;"#,
            "E0802",
        ),
        (r#"report s = sum(load_csv("m.csv"));"#, "E0800"),
        (r#"report s = sum(load_npy("m.npy"));"#, "E0800"),
    ] {
        let (d, rendered) = error(&dir, program);
        assert_eq!(d.code, code, "{program}\n{rendered}");
    }
}

/// A missing file names the path it was read from — relative paths are
/// read from the program file's directory, which the help says.
#[test]
fn a_missing_file_names_the_resolved_path() {
    let dir = TempDir::new("missing");
    let (d, rendered) = error(
        &dir,
        r#"let d: real[2] = load_csv("sub/absent.csv");
           report d = d;"#,
    );
    assert_eq!(d.code, "E0803", "{rendered}");
    let resolved = dir.0.join("sub/absent.csv");
    assert!(
        d.message
            .starts_with(&format!("cannot read `{}`: ", resolved.display())),
        "{rendered}"
    );
    assert_eq!(
        d.help,
        Some(format!(
            "a relative path is read from the program file's directory, `{}`",
            dir.0.display()
        ))
    );
}

/// The messages of the other malformed CSV files (the rendered forms are
/// in the corpus): a ragged row names its line and the first row's, a
/// field that is not a number its line and column.
#[test]
fn malformed_csv_files_name_the_line() {
    let dir = TempDir::new("malformed");
    dir.write("ragged.csv", "1,2,3\n\n4,5,6\n7,8\n");
    dir.write("word.csv", "1,2\n3, four\n");
    let (d, rendered) = error(
        &dir,
        r#"let d: real[3, 3] = load_csv("ragged.csv"); report d = d;"#,
    );
    assert_eq!(d.code, "E0805", "{rendered}");
    assert!(
        d.message
            .ends_with("ragged.csv`: line 4 has 2 fields, but the first row (line 1) has 3"),
        "{rendered}"
    );
    let (d, rendered) = error(
        &dir,
        r#"let d: real[2, 2] = load_csv("word.csv"); report d = d;"#,
    );
    assert_eq!(d.code, "E0806", "{rendered}");
    assert!(
        d.message
            .ends_with("word.csv`: line 2, column 2 is not a number: `four`"),
        "{rendered}"
    );
}

// ======================================================================
// NPY
// ======================================================================

/// `.npy` files of several element types, byte orders and layouts, each
/// with a hand-written header, read in logical (row-major) order: a
/// C-order `<f8` matrix, a Fortran-order one (the bytes column by column),
/// a big-endian `>f8` vector, `<i4` integers declared `int`, `|b1`
/// booleans declared `bool`, and a three-dimensional array.
#[test]
fn npy_files_are_read() {
    let dir = TempDir::new("npy");
    let matrix = [0.5, 1.5, -2.0, 3.25, 4.0, -0.75];
    dir.write("c.npy", npy("<f8", false, &[2, 3], &f64_le(&matrix)));
    // Column-major storage of the same matrix.
    let columns = [0.5, 3.25, 1.5, 4.0, -2.0, -0.75];
    dir.write("f.npy", npy("<f8", true, &[2, 3], &f64_le(&columns)));
    let big: Vec<u8> = [1.0f64, -2.5]
        .iter()
        .flat_map(|x| x.to_be_bytes())
        .collect();
    dir.write("big.npy", npy(">f8", false, &[2], &big));
    let ints: Vec<u8> = [7i32, -3, 0, 42]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    dir.write("ints.npy", npy("<i4", false, &[4], &ints));
    dir.write("flags.npy", npy("|b1", false, &[3], &[1, 0, 1]));
    let cube: Vec<f64> = (0..8).map(f64::from).collect();
    dir.write("cube.npy", npy("<f8", false, &[2, 2, 2], &f64_le(&cube)));
    let got = reports(
        &dir,
        r#"let c: real[2, 3] = load_npy("c.npy");
           let f: real[2, 3] = load_npy("f.npy");
           let big: real[2] = load_npy("big.npy");
           let ints: int[4] = load_npy("ints.npy");
           let flags: bool[3] = load_npy("flags.npy");
           let cube: real[2, 2, 2] = load_npy("cube.npy");
           report c = c;
           report c_entry = c[1][2];
           report f = f;
           report big = big;
           report ints = ints;
           report int_entry = ints[3] - ints[1];
           report flags = flags;
           report cube_entry = cube[1][0][1];"#,
    );
    assert_reports(
        &got,
        &[
            ("c", &matrix),
            ("c_entry", &[-0.75]),
            ("f", &matrix),
            ("big", &[1.0, -2.5]),
            ("ints", &[7.0, -3.0, 0.0, 42.0]),
            ("int_entry", &[45.0]),
            ("flags", &[1.0, 0.0, 1.0]),
            ("cube_entry", &[5.0]),
        ],
    );
}

/// A `.npy` array whose shape is not the declared one is E0808, naming
/// both; an `.npy` file must hold the array as a vector too (no reshaping).
#[test]
fn an_npy_shape_that_does_not_match_the_declaration() {
    let dir = TempDir::new("npy_shape");
    dir.write("a.npy", npy("<f8", false, &[2, 3], &f64_le(&[0.0; 6])));
    let (d, rendered) = error(
        &dir,
        r#"let a: real[3, 2] = load_npy("a.npy"); report a = a;"#,
    );
    assert_eq!(d.code, "E0808", "{rendered}");
    assert!(
        d.message.ends_with(
            "a.npy` holds data of shape [2, 3] (an array of shape [2, 3]), but the declared type is real[3, 2]"
        ),
        "{rendered}"
    );
    assert!(
        d.labels.iter().any(|l| l.message == "declared here"),
        "{rendered}"
    );
    let (d, rendered) = error(&dir, r#"let a: real[6] = load_npy("a.npy"); report a = a;"#);
    assert_eq!(d.code, "E0808", "{rendered}");
}

/// Malformed `.npy` files are E0807 with the reason: data shorter than the
/// header says, a non-numeric element type, and a file that is not `.npy`.
#[test]
fn malformed_npy_files() {
    let dir = TempDir::new("npy_bad");
    let good = npy("<f8", false, &[3], &f64_le(&[1.0, 2.0, 3.0]));
    dir.write("short.npy", &good[..good.len() - 8]);
    dir.write("text.npy", npy("<U1", false, &[3], &[0; 12]));
    dir.write("csv.npy", "1,2,3\n");
    for (file, reason) in [
        (
            "short.npy",
            "not a valid .npy file: the header describes 3 elements of 8 bytes, but the file holds only 16 bytes of data",
        ),
        (
            "text.npy",
            "the array's element type `<U1` is not numeric (expected floats, integers or booleans)",
        ),
        ("csv.npy", "not a valid .npy file: "),
    ] {
        let program = format!(r#"let a: real[3] = load_npy("{file}"); report a = a;"#);
        let (d, rendered) = error(&dir, &program);
        assert_eq!(d.code, "E0807", "{rendered}");
        assert!(
            d.message.contains(&format!("{file}`: {reason}")),
            "{rendered}"
        );
    }
}

// ======================================================================
// Loaded data in programs
// ======================================================================

/// Loaded data is an ordinary array: observed in a model through a choice
/// map, and loaded inside a generative function's body. The density of
/// `x ~ normal(μ, 2)` over `real[3]`, with `μ` from one file and `x` from
/// another, against its closed form `Σᵢ log N(xᵢ; μᵢ, 2)`.
#[test]
fn loaded_data_in_a_model() {
    let dir = TempDir::new("model");
    dir.write("means.csv", "0.5\n-1.0\n2.0\n");
    dir.write(
        "observed.npy",
        npy("<f8", false, &[3], &f64_le(&[1.0, -0.5, 1.0])),
    );
    let got = reports(
        &dir,
        r#"let observed: real[3] = load_npy("observed.npy");
           gen model() {
               let means: real[3] = load_csv("means.csv");
               x ~ normal(means, 2.0);
           }
           report log_density = density(model, { x: observed });"#,
    );
    let normal = |x: f64, m: f64| {
        -0.5 * ((x - m) / 2.0).powi(2) - 2f64.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    };
    let exact = normal(1.0, 0.5) + normal(-0.5, -1.0) + normal(1.0, 2.0);
    assert_eq!(got.len(), 1);
    assert!((got[0].1[0] - exact).abs() < 1e-12, "{got:?} vs {exact}");
}

// ======================================================================
// Through the command
// ======================================================================

/// `vprog run` reads relative data paths from the program file's
/// directory, whatever the current directory; absolute paths as they are.
#[test]
fn the_command_reads_paths_relative_to_the_program_file() {
    let dir = TempDir::new("cli");
    dir.write("project/data/values.csv", "1.5,2.5\n");
    let absolute = dir.write("elsewhere/more.csv", "10\n20\n");
    dir.write(
        "project/model.vprog",
        format!(
            r#"let v: real[2] = load_csv("data/values.csv");
               let w: real[2] = load_csv("{}");
               report total = sum(v) + sum(w);"#,
            absolute.display()
        ),
    );
    // Run from the temporary directory, so `data/values.csv` does not
    // exist relative to the current directory.
    let out = Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args(["run", "project/model.vprog", "--json"])
        .current_dir(&dir.0)
        .output()
        .expect("run vprog");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON line");
    assert_eq!(line["report"], "total");
    assert_eq!(line["value"], 34.0);

    // A missing file: exit code 1 and the rendered E0803 with the path as
    // it was resolved from the command line's program path.
    dir.write(
        "project/broken.vprog",
        r#"let v: real[2] = load_csv("data/absent.csv");
           report total = sum(v);"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args(["run", "project/broken.vprog"])
        .current_dir(&dir.0)
        .output()
        .expect("run vprog");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[E0803] Error: cannot read `project/data/absent.csv`")
            && err.contains("read from the program file's directory, `project`"),
        "{err}"
    );
}
