//! Tensor choices made of independent scalar choices: `normal`,
//! `mv_normal_diag`, `bernoulli` and `bernoulli_logits` over a tensor of
//! any static shape (one scalar choice per element, row-major), and
//! `categorical_logits` over a matrix of logits (one choice per row).
//!
//! A tensor parameter holds one value per element (per row for
//! `categorical_logits`); a scalar parameter is shared by every element.
//! The elements are drawn in order from one stream, each exactly as the
//! scalar family draws it — so a vector `mv_normal_diag` draws what
//! [`Dist`]'s vector `mv_normal_diag` draws, `μᵢ + σᵢ·zᵢ` with the
//! standard normals `zᵢ` of the stream in order. The log density is the
//! sum of the elements' log densities.

use super::{Dist, DistArg, DistError, DistKind, DistValue};
use crate::rng::SiteRng;

/// One evaluated parameter of a tensor choice.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TensorArg<'a> {
    /// A real scalar, broadcast to every element.
    Scalar(f64),
    /// A real tensor, its elements row-major.
    Tensor {
        /// The elements.
        data: &'a [f64],
        /// The shape.
        shape: &'a [usize],
    },
}

/// A validated tensor choice: one scalar [`Dist`] per element.
#[derive(Clone, Debug)]
pub struct Independent<'a> {
    kind: DistKind,
    shape: Vec<usize>,
    elements: Vec<Dist<'a>>,
}

impl<'a> Independent<'a> {
    /// Validates `args` for a tensor choice of `kind` and builds it.
    ///
    /// For the elementwise families the tensor arguments must share one
    /// shape, the value's (a scalar if every argument is one); for
    /// `categorical_logits` the argument is a vector (one choice) or a
    /// matrix (one choice per row) of logits. Every element's parameters
    /// are validated as the scalar family's; an error names the element.
    pub fn new(kind: DistKind, args: &[TensorArg<'a>]) -> Result<Independent<'a>, DistError> {
        let error = |message: String| DistError {
            message: format!("{kind}: {message}"),
        };
        if args.len() != kind.param_names().len() {
            return Err(error(format!(
                "expected {} argument(s), got {}",
                kind.param_names().len(),
                args.len()
            )));
        }
        if kind == DistKind::CategoricalLogits {
            let (data, shape) = match args[0] {
                TensorArg::Tensor { data, shape } if matches!(shape.len(), 1 | 2) => (data, shape),
                _ => return Err(error("logits must be a vector or a matrix".into())),
            };
            let classes = *shape.last().unwrap_or(&0);
            let rows: usize = shape[..shape.len() - 1].iter().product();
            if classes == 0 || data.len() != rows * classes {
                return Err(error(format!(
                    "logits must have at least one column and fit their shape {shape:?}"
                )));
            }
            let elements = data
                .chunks(classes)
                .enumerate()
                .map(|(row, logits)| {
                    Dist::new(kind, &[DistArg::Vector(logits)])
                        .map_err(|e| at_element(e, kind, kind, &shape[..shape.len() - 1], row))
                })
                .collect::<Result<Vec<_>, _>>()?;
            return Ok(Independent {
                kind,
                shape: shape[..shape.len() - 1].to_vec(),
                elements,
            });
        }
        if !kind.is_elementwise() {
            return Err(error(
                "is not a family of independent elements over a tensor".into(),
            ));
        }
        let mut shape: Option<&[usize]> = None;
        for arg in args {
            if let TensorArg::Tensor { data, shape: s } = *arg {
                if data.len() != s.iter().product::<usize>() {
                    return Err(error(format!(
                        "a parameter of shape {s:?} has {} elements",
                        data.len()
                    )));
                }
                match shape {
                    Some(first) if first != s => {
                        return Err(error(format!(
                            "parameters of shapes {first:?} and {s:?} do not broadcast"
                        )));
                    }
                    _ => shape = Some(s),
                }
            }
        }
        let shape = shape.unwrap_or(&[]).to_vec();
        let len = shape.iter().product();
        let element_kind = kind.element_kind();
        let mut elements = Vec::with_capacity(len);
        for index in 0..len {
            let element_args: Vec<DistArg<'_>> = args
                .iter()
                .map(|arg| match *arg {
                    TensorArg::Scalar(x) => DistArg::Real(x),
                    TensorArg::Tensor { data, .. } => DistArg::Real(data[index]),
                })
                .collect();
            let dist = Dist::new(element_kind, &element_args)
                .map_err(|e| at_element(e, kind, element_kind, &shape, index))?;
            elements.push(dist);
        }
        Ok(Independent {
            kind,
            shape,
            elements,
        })
    }

    /// The family.
    pub fn kind(&self) -> DistKind {
        self.kind
    }

    /// The shape of the value (empty for a scalar).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The scalar choices, row-major.
    pub fn elements(&self) -> &[Dist<'a>] {
        &self.elements
    }

    /// Draws every element, in order, from the stream `rng`: reals for the
    /// elementwise families, integers for `categorical_logits`.
    pub fn sample(&self, rng: &mut SiteRng) -> Vec<DistValue> {
        self.elements.iter().map(|d| d.sample(rng)).collect()
    }

    /// The sum of the elements' log densities at `values` (row-major);
    /// `−∞` if the number of values is not the number of elements.
    pub fn log_density(&self, values: &[DistValue]) -> f64 {
        if values.len() != self.elements.len() {
            return f64::NEG_INFINITY;
        }
        self.elements
            .iter()
            .zip(values)
            .map(|(d, v)| d.log_density(v))
            .sum()
    }
}

/// `error` from the scalar family `element_kind`, for element `index` of a
/// tensor choice of `kind` with value shape `shape`: the family is renamed
/// and the element's position appended.
fn at_element(
    error: DistError,
    kind: DistKind,
    element_kind: DistKind,
    shape: &[usize],
    index: usize,
) -> DistError {
    let prefix = format!("{element_kind}: ");
    let rest = error
        .message
        .strip_prefix(&prefix)
        .unwrap_or(&error.message);
    let mut position = Vec::with_capacity(shape.len());
    let mut remainder = index;
    for &extent in shape.iter().rev() {
        position.push(remainder % extent.max(1));
        remainder /= extent.max(1);
    }
    position.reverse();
    let position: Vec<String> = position.iter().map(usize::to_string).collect();
    DistError {
        message: format!("{kind}: {rest} (at element [{}])", position.join(", ")),
    }
}
