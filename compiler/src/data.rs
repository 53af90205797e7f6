//! Data files read at compile time: the readers behind `load_csv` and
//! `load_npy`.
//!
//! The lowering reads a data file once per program (`lower/data.rs` keeps
//! a cache) and emits its contents as one constant tensor. The readers here
//! only turn bytes into a [`Table`] — a row-major array of `f64` with its
//! shape — or a [`DataError`] that says what is wrong and where; they know
//! nothing of the program, its declared types or its spans.
//!
//! **CSV.** Numbers separated by commas, one row per line (`\n` or
//! `\r\n`); whitespace around a field is ignored, lines that are empty or
//! all whitespace are skipped, and a UTF-8 byte-order mark is dropped. A
//! field is whatever Rust's `f64` parser reads (`1`, `-2.5e-3`, `inf`,
//! `nan`); there is no quoting. With `header`, the first non-empty line is
//! skipped unread. Every row must have as many fields as the first.
//!
//! **NPY.** The `.npy` format (version 1–3) through `ndarray-npy`'s header
//! reader and element decoders: little- or big-endian `f8 f4 i8 i4 i2 i1 u8
//! u4 u2 u1` and `b1`, converted to `f64` (64-bit integers beyond 2⁵³ are
//! rounded); Fortran-order arrays are reordered to row-major. The data's
//! length is checked against the header before anything is allocated, so a
//! corrupt header cannot ask for more memory than the file holds.

use std::fmt;
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};
use ndarray_npy::ReadableElement;
use ndarray_npy::npy::header::Header;

/// A numeric array read from a file: row-major `f64` data and its shape.
///
/// The data is shared: every use of a loaded file in a program, and every
/// IR operation that holds it, points at the same allocation.
#[derive(Clone, PartialEq)]
pub struct Table {
    /// The dimensions, outermost first: `[rows, columns]` for a CSV file.
    pub shape: Vec<usize>,
    /// The elements, row-major.
    pub data: Arc<[f64]>,
}

impl fmt::Debug for Table {
    /// The shape only: a table can hold millions of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Table {{ shape: {:?}, .. }}", self.shape)
    }
}

/// Why a data file could not be read. Line and column numbers are
/// 1-based and count every line of the file (blank ones and the header
/// too), so they match what an editor shows.
#[derive(Clone, Debug, PartialEq)]
pub enum DataError {
    /// The file is missing or unreadable (the operating system's reason).
    Io(String),
    /// A CSV file that is not UTF-8 text.
    NotText {
        /// The line holding the first invalid byte.
        line: usize,
    },
    /// No data rows: an empty file, only blank lines, or only a header.
    Empty {
        /// Whether a header line was skipped.
        header_skipped: bool,
    },
    /// A row with a different number of fields than the first row.
    Ragged {
        /// The row's line.
        line: usize,
        /// How many fields it has.
        fields: usize,
        /// The first data row's line.
        first_line: usize,
        /// How many fields that has.
        expected: usize,
    },
    /// A field that is not a number.
    NotANumber {
        /// The field's line.
        line: usize,
        /// Its column (1-based field number).
        column: usize,
        /// The field as written (trimmed).
        text: String,
        /// Whether it is in the first line read as data without a header
        /// having been skipped (so the line may be a header).
        maybe_header: bool,
    },
    /// Not a valid `.npy` file (the reason).
    Npy(String),
    /// A `.npy` file whose element type is not numeric.
    NpyElementType(String),
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io(reason) => write!(f, "{reason}"),
            DataError::NotText { line } => write!(f, "line {line} is not UTF-8 text"),
            DataError::Empty {
                header_skipped: true,
            } => write!(f, "there are no data rows after the header line"),
            DataError::Empty {
                header_skipped: false,
            } => write!(f, "the file has no data"),
            DataError::Ragged {
                line,
                fields,
                first_line,
                expected,
            } => write!(
                f,
                "line {line} has {fields} field{}, but the first row (line {first_line}) has {expected}",
                plural(*fields)
            ),
            DataError::NotANumber {
                line, column, text, ..
            } if text.is_empty() => write!(f, "line {line}, column {column} is empty"),
            DataError::NotANumber {
                line, column, text, ..
            } => write!(f, "line {line}, column {column} is not a number: `{text}`"),
            DataError::Npy(reason) => write!(f, "not a valid .npy file: {reason}"),
            DataError::NpyElementType(descr) => write!(
                f,
                "the array's element type `{descr}` is not numeric (expected floats, integers or booleans)"
            ),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Reads the CSV file at `path` (see [`parse_csv`]).
pub fn read_csv(path: &Path, header: bool) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::Io(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|e| DataError::NotText {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    })?;
    parse_csv(text, header)
}

/// Parses CSV text into a `[rows, columns]` table, skipping the first
/// non-empty line when `header` is set.
pub fn parse_csv(text: &str, header: bool) -> Result<Table, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.trim().is_empty());
    if header && lines.next().is_none() {
        return Err(DataError::Empty {
            header_skipped: false,
        });
    }
    let mut data = Vec::new();
    let mut first: Option<(usize, usize)> = None;
    let mut rows = 0;
    for (line_number, line) in lines {
        let maybe_header = first.is_none() && !header;
        let mut fields = 0;
        for (column, field) in line.split(',').enumerate() {
            let field = field.trim();
            let value = field.parse::<f64>().map_err(|_| DataError::NotANumber {
                line: line_number,
                column: column + 1,
                text: field.to_string(),
                maybe_header,
            })?;
            data.push(value);
            fields += 1;
        }
        match first {
            None => {
                first = Some((line_number, fields));
                // About as many rows as lines of this length fit in the
                // text (and never more numbers than the text has bytes).
                let rows_estimate = text.len() / (line.len() + 1);
                data.reserve(rows_estimate.saturating_mul(fields).min(text.len()));
            }
            Some((first_line, expected)) if fields != expected => {
                return Err(DataError::Ragged {
                    line: line_number,
                    fields,
                    first_line,
                    expected,
                });
            }
            Some(_) => {}
        }
        rows += 1;
    }
    let Some((_, columns)) = first else {
        return Err(DataError::Empty {
            header_skipped: header,
        });
    };
    Ok(Table {
        shape: vec![rows, columns],
        data: data.into(),
    })
}

/// Reads the `.npy` file at `path` (see [`parse_npy`]).
pub fn read_npy(path: &Path) -> Result<Table, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::Io(e.to_string()))?;
    parse_npy(&bytes)
}

/// The element types `load_npy` reads: (kind, size in bytes) of the
/// type descriptor (`<f8` is a little-endian f8).
const NPY_ELEMENTS: &[(&str, usize)] = &[
    ("f", 8),
    ("f", 4),
    ("i", 8),
    ("i", 4),
    ("i", 2),
    ("i", 1),
    ("u", 8),
    ("u", 4),
    ("u", 2),
    ("u", 1),
    ("b", 1),
];

/// Parses the bytes of a `.npy` file into a row-major table.
pub fn parse_npy(bytes: &[u8]) -> Result<Table, DataError> {
    let mut reader = Cursor::new(bytes);
    let header = Header::from_reader(&mut reader).map_err(|e| DataError::Npy(e.to_string()))?;
    let Some(descr) = header.type_descriptor.as_string().cloned() else {
        // A structured (record) dtype is a list, not a string.
        return Err(DataError::NpyElementType(
            header.type_descriptor.to_string(),
        ));
    };
    // `<f8`, `>i4`, `|u1`: byte order, kind, size in bytes.
    let element = descr
        .get(1..2)
        .zip(descr.get(2..).and_then(|s| s.parse::<usize>().ok()))
        .filter(|e| NPY_ELEMENTS.contains(e));
    let Some((kind, size)) = element else {
        return Err(DataError::NpyElementType(descr));
    };
    let len = header
        .shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .and_then(|n| n.checked_mul(size).map(|_| n))
        .ok_or_else(|| DataError::Npy("the header's shape is too large".into()))?;
    let remaining = bytes.len() - reader.position() as usize;
    if len * size > remaining {
        return Err(DataError::Npy(format!(
            "the header describes {len} element{} of {size} byte{}, but the file holds only {remaining} bytes of data",
            plural(len),
            plural(size)
        )));
    }
    if len * size < remaining {
        return Err(DataError::Npy(format!(
            "{} bytes follow the data the header describes",
            remaining - len * size
        )));
    }
    let data: Vec<f64> = match (kind, size) {
        ("f", 8) => decode::<f64>(&mut reader, &header, len, |x| x)?,
        ("f", 4) => decode::<f32>(&mut reader, &header, len, f64::from)?,
        ("i", 8) => decode::<i64>(&mut reader, &header, len, |x| x as f64)?,
        ("i", 4) => decode::<i32>(&mut reader, &header, len, f64::from)?,
        ("i", 2) => decode::<i16>(&mut reader, &header, len, f64::from)?,
        ("i", 1) => decode::<i8>(&mut reader, &header, len, f64::from)?,
        ("u", 8) => decode::<u64>(&mut reader, &header, len, |x| x as f64)?,
        ("u", 4) => decode::<u32>(&mut reader, &header, len, f64::from)?,
        ("u", 2) => decode::<u16>(&mut reader, &header, len, f64::from)?,
        ("u", 1) => decode::<u8>(&mut reader, &header, len, f64::from)?,
        ("b", 1) => decode::<bool>(&mut reader, &header, len, f64::from)?,
        _ => return Err(DataError::NpyElementType(descr)),
    };
    let data = if header.layout.is_fortran() && header.shape.len() > 1 {
        // The file holds the array column-major; view it in Fortran order
        // and collect it in logical (row-major) order.
        let array = ArrayD::from_shape_vec(IxDyn(&header.shape).f(), data)
            .map_err(|e| DataError::Npy(e.to_string()))?;
        array.iter().copied().collect()
    } else {
        data
    };
    Ok(Table {
        shape: header.shape,
        data: data.into(),
    })
}

/// Decodes the `len` elements of type `T` that follow `header` (whose
/// descriptor the caller matched to `T`) and converts them to `f64`.
fn decode<T: ReadableElement>(
    reader: &mut Cursor<&[u8]>,
    header: &Header,
    len: usize,
    convert: impl Fn(T) -> f64,
) -> Result<Vec<f64>, DataError> {
    let values = T::read_to_end_exact_vec(reader, &header.type_descriptor, len)
        .map_err(|e| DataError::Npy(e.to_string()))?;
    Ok(values.into_iter().map(convert).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};
    use ndarray_npy::{WritableElement, WriteNpyExt};

    fn csv(text: &str, header: bool) -> Result<(Vec<usize>, Vec<f64>), DataError> {
        parse_csv(text, header).map(|t| (t.shape, t.data.to_vec()))
    }

    fn npy_bytes<T: WritableElement, D: ndarray::Dimension>(a: &ndarray::Array<T, D>) -> Vec<u8> {
        let mut out = Vec::new();
        a.write_npy(&mut out).expect("write npy");
        out
    }

    /// `bytes` with the first occurrence of `from` replaced by `to`.
    fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
        let from = from.as_bytes();
        let at = bytes
            .windows(from.len())
            .position(|w| w == from)
            .expect("the text to replace");
        [&bytes[..at], to.as_bytes(), &bytes[at + from.len()..]].concat()
    }

    fn npy(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>), DataError> {
        parse_npy(bytes).map(|t| (t.shape, t.data.to_vec()))
    }

    #[test]
    fn csv_rows_become_a_row_major_matrix() {
        assert_eq!(
            csv("1,2,3\n4,5,6\n", false),
            Ok((vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
        );
    }

    #[test]
    fn csv_accepts_spaces_crlf_blank_lines_a_bom_and_no_final_newline() {
        assert_eq!(
            csv("\u{feff} 1.5 , -2e-1\r\n\r\n  \n3,inf\r\n-0.0,+7", false),
            Ok((vec![3, 2], vec![1.5, -0.2, 3.0, f64::INFINITY, -0.0, 7.0]))
        );
    }

    #[test]
    fn csv_header_skips_the_first_non_empty_line() {
        assert_eq!(
            csv("\nlabel,p0\n0,1\n1,0\n", true),
            Ok((vec![2, 2], vec![0.0, 1.0, 1.0, 0.0]))
        );
        // The header is skipped unread, even when it is numeric.
        assert_eq!(csv("7,8\n1,2\n", true), Ok((vec![1, 2], vec![1.0, 2.0])));
    }

    #[test]
    fn csv_one_column_and_one_field() {
        assert_eq!(
            csv("1\n2\n3\n", false),
            Ok((vec![3, 1], vec![1.0, 2.0, 3.0]))
        );
        assert_eq!(csv("42", false), Ok((vec![1, 1], vec![42.0])));
    }

    #[test]
    fn csv_without_data_is_empty() {
        let empty = Err(DataError::Empty {
            header_skipped: false,
        });
        assert_eq!(csv("", false), empty);
        assert_eq!(csv(" \n\r\n\n", false), empty);
        assert_eq!(csv("", true), empty);
        assert_eq!(
            csv("a,b\n\n", true),
            Err(DataError::Empty {
                header_skipped: true
            })
        );
        assert_eq!(
            DataError::Empty {
                header_skipped: true
            }
            .to_string(),
            "there are no data rows after the header line"
        );
    }

    #[test]
    fn csv_ragged_rows_name_both_lines_and_lengths() {
        let e = csv("h\n\n1,2,3\n4,5,6\n7,8\n", true).unwrap_err();
        assert_eq!(
            e,
            DataError::Ragged {
                line: 5,
                fields: 2,
                first_line: 3,
                expected: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "line 5 has 2 fields, but the first row (line 3) has 3"
        );
        assert_eq!(
            csv("1,2\n3\n", false).unwrap_err().to_string(),
            "line 2 has 1 field, but the first row (line 1) has 2"
        );
        // A trailing comma is an empty last field, not a shorter row.
        assert_eq!(
            csv("1,2\n3,4,\n", false).unwrap_err().to_string(),
            "line 2, column 3 is empty"
        );
    }

    #[test]
    fn csv_non_numbers_name_line_column_and_text() {
        let e = csv("1,2\n3, x7 \n", false).unwrap_err();
        assert_eq!(
            e,
            DataError::NotANumber {
                line: 2,
                column: 2,
                text: "x7".into(),
                maybe_header: false
            }
        );
        assert_eq!(e.to_string(), "line 2, column 2 is not a number: `x7`");
        assert_eq!(
            csv("1,,2\n", false).unwrap_err().to_string(),
            "line 1, column 2 is empty"
        );
        // A non-numeric first row may be a header; after a header it is not.
        assert!(matches!(
            csv("\nlabel,p0\n1,2\n", false),
            Err(DataError::NotANumber {
                line: 2,
                column: 1,
                maybe_header: true,
                ..
            })
        ));
        assert!(matches!(
            csv("label,p0\nx,2\n", true),
            Err(DataError::NotANumber {
                line: 2,
                maybe_header: false,
                ..
            })
        ));
        // Quoting is not supported: a quoted number is not a number.
        assert!(matches!(
            csv("\"1\"\n", false),
            Err(DataError::NotANumber { .. })
        ));
    }

    #[test]
    fn csv_files_that_are_missing_or_not_text() {
        let dir = std::env::temp_dir().join(format!("vprog-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let missing = dir.join("missing.csv");
        assert!(matches!(read_csv(&missing, false), Err(DataError::Io(_))));
        assert!(matches!(read_npy(&missing), Err(DataError::Io(_))));
        let latin1 = dir.join("latin1.csv");
        std::fs::write(&latin1, b"1,2\n3,4\n\xe9,5\n").expect("write");
        assert_eq!(
            read_csv(&latin1, false),
            Err(DataError::NotText { line: 3 })
        );
        let good = dir.join("good.csv");
        std::fs::write(&good, "1,2\n").expect("write");
        assert_eq!(read_csv(&good, false).map(|t| t.shape), Ok(vec![1, 2]));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn npy_reads_f64_in_row_major_order() {
        let a = Array2::from_shape_vec((2, 3), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).expect("shape");
        assert_eq!(
            npy(&npy_bytes(&a)),
            Ok((vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.5]))
        );
        let v = Array1::from(vec![0.25, -1.0]);
        assert_eq!(npy(&npy_bytes(&v)), Ok((vec![2], vec![0.25, -1.0])));
    }

    #[test]
    fn npy_converts_other_numeric_types_to_f64() {
        let f32s = Array1::from(vec![0.5f32, -2.25]);
        assert_eq!(npy(&npy_bytes(&f32s)), Ok((vec![2], vec![0.5, -2.25])));
        let i64s = Array1::from(vec![-3i64, 1 << 40]);
        assert_eq!(
            npy(&npy_bytes(&i64s)),
            Ok((vec![2], vec![-3.0, (1u64 << 40) as f64]))
        );
        let i32s = Array1::from(vec![7i32, -8]);
        assert_eq!(npy(&npy_bytes(&i32s)), Ok((vec![2], vec![7.0, -8.0])));
        let u8s = Array1::from(vec![0u8, 255]);
        assert_eq!(npy(&npy_bytes(&u8s)), Ok((vec![2], vec![0.0, 255.0])));
        let bools = Array1::from(vec![true, false]);
        assert_eq!(npy(&npy_bytes(&bools)), Ok((vec![2], vec![1.0, 0.0])));
    }

    #[test]
    fn npy_fortran_order_is_reordered_to_row_major() {
        use ndarray::ShapeBuilder;
        // Column-major storage of [[1, 2, 3], [4, 5, 6]].
        let a =
            Array2::from_shape_vec((2, 3).f(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]).expect("shape");
        let bytes = npy_bytes(&a);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("'fortran_order': True"), "{text}");
        assert_eq!(
            npy(&bytes),
            Ok((vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]))
        );
        // Three dimensions.
        let f =
            ndarray::Array3::from_shape_fn((2, 3, 4).f(), |(i, j, k)| (i * 12 + j * 4 + k) as f64);
        assert!(!f.is_standard_layout());
        assert_eq!(
            npy(&npy_bytes(&f)),
            Ok((vec![2, 3, 4], (0..24).map(f64::from).collect()))
        );
    }

    #[test]
    fn npy_errors_are_reported_not_panicked() {
        assert!(matches!(npy(b""), Err(DataError::Npy(_))));
        assert!(matches!(npy(b"1,2,3\n"), Err(DataError::Npy(_))));
        let good = npy_bytes(&Array1::from(vec![1.0f64, 2.0, 3.0]));
        // Truncated data: the header promises 24 bytes.
        let e = npy(&good[..good.len() - 4]).unwrap_err();
        assert!(
            e.to_string()
                .contains("describes 3 elements of 8 bytes, but the file holds only 20"),
            "{e}"
        );
        let mut long = good.clone();
        long.extend_from_slice(&[0, 0]);
        assert_eq!(
            npy(&long).unwrap_err().to_string(),
            "not a valid .npy file: 2 bytes follow the data the header describes"
        );
        // Every truncation of a valid file is an error, never a panic.
        for n in 0..good.len() {
            assert!(npy(&good[..n]).is_err(), "{n}");
        }
        // A header claiming a huge shape does not allocate it.
        let huge = replace(&good, "(3,)", "(9999999999999,)");
        let huge = replace(&huge, &" ".repeat(12), ""); // keep the header's length
        assert!(
            npy(&huge)
                .unwrap_err()
                .to_string()
                .contains("but the file holds only 24 bytes"),
            "{:?}",
            npy(&huge)
        );
    }

    #[test]
    fn npy_rejects_non_numeric_element_types() {
        let good = npy_bytes(&Array1::from(vec![1.0f64]));
        assert_eq!(
            npy(&replace(&good, "'<f8'", "'<U1'"))
                .unwrap_err()
                .to_string(),
            "the array's element type `<U1` is not numeric (expected floats, integers or booleans)"
        );
        assert!(matches!(
            npy(&replace(&good, "'<f8'", "'<c8'")),
            Err(DataError::NpyElementType(d)) if d == "<c8"
        ));
    }
}
