//! `load_csv(path, header = false)` and `load_npy(path)`: data files read
//! while lowering and emitted as constant tensors.
//!
//! A load is the value of a `let` with a declared type,
//! `let d: real[1797, 65] = load_csv("digits.csv", header = true);`: the
//! checker needs the shape statically (and reports a load without one,
//! E0800), and the lowering checks the file against it (E0808). The file is
//! read by `crate::data`; the path is resolved against the program's
//! [`Program::data_dir`] unless it is absolute.
//!
//! Each file is read once per program, however often it is lowered — a
//! top-level `let` is lowered at every use and a `gen` body once per
//! specialization — and every use's `const_tensor` shares that one
//! allocation, so passes copy a pointer, not the data.
//!
//! An `int[...]` declaration converts the loaded reals (which must be
//! integers of magnitude at most 2⁵³, exactly representable) with
//! `f64_to_int`; a `bool[...]` declaration (of zeros and ones) compares
//! them with zero.

use super::Program;
use super::ctx::{LResult, Lower};
use super::meta::Meta;
use crate::data::{self, DataError, Table};
use crate::prim::Prim;
use crate::prim::eval::Scalar;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use vprog_lang::ast::{Arg, Expr, ExprKind, TypeExpr};
use vprog_lang::check::{DATA_BUILTINS, load_declared_type, load_needs_declared_type};
use vprog_lang::{Diagnostic, Span};

/// How a file is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Format {
    /// CSV, skipping a header line or not.
    Csv { header: bool },
    /// `.npy`.
    Npy,
}

/// The files a program has read, by resolved path and format.
#[derive(Default)]
pub(crate) struct DataCache(RefCell<HashMap<(PathBuf, Format), Table>>);

impl fmt::Debug for DataCache {
    /// The paths and shapes only: a table can hold millions of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files = self.0.borrow();
        f.debug_map()
            .entries(files.iter().map(|((path, _), t)| (path, &t.shape)))
            .finish()
    }
}

impl DataCache {
    /// The table in `path`, read now or earlier.
    fn load(&self, path: &Path, format: Format) -> Result<Table, DataError> {
        let key = (path.to_path_buf(), format);
        if let Some(t) = self.0.borrow().get(&key) {
            return Ok(t.clone());
        }
        let table = match format {
            Format::Csv { header } => data::read_csv(path, header)?,
            Format::Npy => data::read_npy(path)?,
        };
        self.0.borrow_mut().insert(key, table.clone());
        Ok(table)
    }
}

/// The directory that relative data paths of a program are resolved
/// against, given the name of its main file in the source map: the
/// file's directory, or the current directory (the empty path) for a
/// program without a file (`<program>`, `<session>`, a bare file name).
pub(crate) fn data_dir_of(file_name: &str) -> PathBuf {
    if file_name.starts_with('<') {
        return PathBuf::new();
    }
    Path::new(file_name)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

impl Program {
    /// Where a data path written in the program is read from.
    fn resolve_data_path(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.data_dir.join(path)
        }
    }
}

/// The element type and dimensions a load is declared with.
struct Declared {
    /// `real`, `int` or `bool`.
    elem: &'static str,
    dims: Vec<usize>,
    span: Span,
}

impl Declared {
    fn describe(&self) -> String {
        format!("{}{}", self.elem, shape_text(&self.dims))
    }
}

/// `[2, 3]`.
fn shape_text(dims: &[usize]) -> String {
    let dims: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    format!("[{}]", dims.join(", "))
}

/// The multi-index of the `flat`-th element of a row-major array.
fn index_text(mut flat: usize, dims: &[usize]) -> String {
    let mut index = vec![0; dims.len()];
    for (k, &d) in dims.iter().enumerate().rev() {
        index[k] = flat % d.max(1);
        flat /= d.max(1);
    }
    shape_text(&index)
}

impl Lower<'_, '_> {
    /// Lowers `value` if it is a call of `load_csv` or `load_npy` (the
    /// builtins, not a local of that name), declared by the `let`'s type
    /// `declared`; `None` for any other value.
    pub fn data_let(&mut self, value: &Expr, declared: Option<&TypeExpr>) -> LResult<Option<Meta>> {
        let ExprKind::Call { callee, args } = &value.kind else {
            return Ok(None);
        };
        let ExprKind::Var(name) = &callee.kind else {
            return Ok(None);
        };
        let Some(declared) = declared else {
            return Ok(None);
        };
        if !DATA_BUILTINS.contains(&name.name.as_str()) {
            return Ok(None);
        }
        match self.lookup(&name.name, callee.span)? {
            Meta::Builtin(b) => self.load_data(b.0, args, declared, value.span).map(Some),
            _ => Ok(None),
        }
    }

    /// A load that is not the value of a `let` with a declared type
    /// (E0800; the checker reports it first).
    pub fn data_call_without_type(&self, name: &str, span: Span) -> LResult<Meta> {
        Err(load_needs_declared_type(name, span))
    }

    /// `name(args)` declared as `declared`: reads the file and emits it.
    fn load_data(
        &mut self,
        name: &'static str,
        args: &[Arg],
        declared: &TypeExpr,
        span: Span,
    ) -> LResult<Meta> {
        let declared = declared_type(name, declared)?;
        let (pos, named) = self.args(args)?;
        if pos.len() != 1 {
            return self.err(
                "E0400",
                format!("`{name}` takes 1 argument(s), but {} were given", pos.len()),
                span,
            );
        }
        let (path_meta, path_span) = pos.into_iter().next().expect("one argument");
        let Meta::Str(written) = path_meta else {
            return self.err(
                "E0802",
                format!(
                    "the path of `{name}` must be a string, found {}",
                    path_meta.kind_name()
                ),
                path_span,
            );
        };
        let mut format = if name == "load_csv" {
            Format::Csv { header: false }
        } else {
            Format::Npy
        };
        for (option, m, option_span) in named {
            match (&mut format, option.as_str()) {
                (Format::Csv { header }, "header") => {
                    let constant = match m {
                        Meta::Val(v) => self.consts.get(&v).copied(),
                        _ => None,
                    };
                    let Some(Scalar::B(b)) = constant else {
                        return self.err(
                            "E0802",
                            "`header` must be `true` or `false`",
                            option_span,
                        );
                    };
                    *header = b;
                }
                _ => {
                    return self.err(
                        "E0401",
                        format!("`{name}` has no option `{option}`"),
                        option_span,
                    );
                }
            }
        }
        let path = self.prog.resolve_data_path(&written);
        let table = self
            .prog
            .data
            .load(&path, format)
            .map_err(|e| self.data_error(&e, &path, &written, span))?;
        self.check_data_shape(&table, format, &declared, &path, span)?;
        self.check_data_elements(&table, &declared, &path, span)?;
        self.at(span, None);
        let tensor = self.b.prim(
            Prim::ConstTensor {
                shape: declared.dims.clone(),
                data: table.data,
            },
            &[],
        );
        let v = match declared.elem {
            "int" => self.prim(Prim::F64ToInt, &[tensor]),
            "bool" => {
                let zero = self.constant(Scalar::F(0.0));
                let zeros = self.prim(Prim::Broadcast(declared.dims.clone()), &[zero]);
                self.prim(Prim::Ne, &[tensor, zeros])
            }
            _ => tensor,
        };
        Ok(Meta::Val(v))
    }

    /// The diagnostic for a file that could not be read.
    fn data_error(&self, e: &DataError, path: &Path, written: &str, span: Span) -> Diagnostic {
        let shown = path.display();
        let code = match e {
            DataError::Io(_) | DataError::NotText { .. } => "E0803",
            DataError::Empty { .. } => "E0804",
            DataError::Ragged { .. } => "E0805",
            DataError::NotANumber { .. } => "E0806",
            DataError::Npy(_) | DataError::NpyElementType(_) => "E0807",
        };
        let message = match e {
            DataError::Io(reason) => format!("cannot read `{shown}`: {reason}"),
            other => format!("`{shown}`: {other}"),
        };
        let d = Diagnostic::error(code, message, span);
        match e {
            DataError::Io(_) if Path::new(written).is_relative() => {
                d.with_help(if self.prog.data_dir.as_os_str().is_empty() {
                    "a relative path is read from the current directory".to_string()
                } else {
                    format!(
                        "a relative path is read from the program file's directory, `{}`",
                        self.prog.data_dir.display()
                    )
                })
            }
            DataError::NotANumber {
                maybe_header: true, ..
            } => d.with_help(format!(
                "if the first line is a header, skip it: `load_csv(\"{written}\", header = true)`"
            )),
            _ => d,
        }
    }

    /// Checks the file's shape against the declared one (E0808). A CSV
    /// file of one column or one row may be declared as a vector.
    fn check_data_shape(
        &self,
        table: &Table,
        format: Format,
        declared: &Declared,
        path: &Path,
        span: Span,
    ) -> LResult<()> {
        let fits = table.shape == declared.dims
            || (matches!(format, Format::Csv { .. })
                && declared.dims.len() == 1
                && (table.shape[1] == 1 || table.shape[0] == 1)
                && table.data.len() == declared.dims[0]);
        if fits {
            return Ok(());
        }
        let what = match format {
            Format::Csv { .. } => format!(
                "{} row{} of {} column{}",
                table.shape[0],
                if table.shape[0] == 1 { "" } else { "s" },
                table.shape[1],
                if table.shape[1] == 1 { "" } else { "s" },
            ),
            Format::Npy => format!("an array of shape {}", shape_text(&table.shape)),
        };
        let mut d = Diagnostic::error(
            "E0808",
            format!(
                "`{}` holds data of shape {} ({what}), but the declared type is {}",
                path.display(),
                shape_text(&table.shape),
                declared.describe()
            ),
            span,
        )
        .with_label(declared.span, "declared here");
        if matches!(format, Format::Csv { .. }) && declared.dims.len() == 1 {
            d = d.with_help("a CSV file is declared `real[rows, columns]`, or `real[n]` when it has one column or one row");
        }
        Err(d)
    }

    /// Checks that the values fit an `int` or `bool` declaration (E0809).
    fn check_data_elements(
        &self,
        table: &Table,
        declared: &Declared,
        path: &Path,
        span: Span,
    ) -> LResult<()> {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        let bad = match declared.elem {
            "int" => table
                .data
                .iter()
                .position(|x| !(x.fract() == 0.0 && x.abs() <= EXACT)),
            "bool" => table.data.iter().position(|&x| x != 0.0 && x != 1.0),
            _ => None,
        };
        let Some(at) = bad else {
            return Ok(());
        };
        let (value, needs) = (
            table.data[at],
            if declared.elem == "int" {
                "an integer (of magnitude at most 2^53)"
            } else {
                "0 or 1"
            },
        );
        Err(Diagnostic::error(
            "E0809",
            format!(
                "`{}`: the element at {} is {value}, which is not {needs}",
                path.display(),
                index_text(at, &declared.dims),
            ),
            span,
        )
        .with_label(declared.span, format!("declared {}", declared.describe()))
        .with_help("declare the data as `real[...]` to read any number"))
    }
}

/// The element type and dimensions a load is declared with (E0801 for a
/// type that cannot hold data; the checker reports it first).
fn declared_type(load: &str, ty: &TypeExpr) -> LResult<Declared> {
    let (elem, dims) = load_declared_type(load, ty)?;
    Ok(Declared {
        elem,
        dims: dims.iter().map(|&d| d as usize).collect(),
        span: ty.span,
    })
}
