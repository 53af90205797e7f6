//! Building a [`Dist`] from evaluated arguments: arity, argument kinds, and
//! the validity of every parameter, each failure reported with the
//! distribution's name, the parameter's name and the offending value.

use super::{Dist, DistArg, DistError, DistKind, Family};
use vprog_compiler::dist::ParamKind;

/// Categorical weights must sum to 1 within this much before they are
/// renormalized (the brief's rule: accept rounding from the user's
/// arithmetic, reject a vector that is not a distribution).
const CATEGORICAL_SUM_TOLERANCE: f64 = 1e-6;

impl<'a> Dist<'a> {
    /// Validates `args` against `kind` and builds the distribution.
    ///
    /// Checks, in order: the number of arguments; the kind of each
    /// ([`DistKind::param_kinds`]; an `Int` is accepted for a real
    /// parameter); and the parameters' values. Every real parameter must be
    /// finite; scales, rates, shapes, `df` and dirichlet's `alpha` must be
    /// positive; uniform needs `low < high`; probabilities lie in `[0, 1]`
    /// (geometric's in `(0, 1]`, since `p = 0` never succeeds); categorical
    /// weights are non-negative and sum to 1 within 1e-6 (they are then
    /// renormalized exactly); logits are finite; binomial `n ≥ 0`; vectors are non-empty and
    /// of matching lengths; `mv_normal`'s `scale_tril` is square, matches
    /// the mean, and is lower-triangular with a positive diagonal.
    pub fn new(kind: DistKind, args: &[DistArg<'a>]) -> Result<Dist<'a>, DistError> {
        let args = Arguments::check(kind, args)?;
        let family = match kind {
            DistKind::Normal => Family::Normal {
                mean: args.finite(0)?,
                scale: args.positive(1)?,
            },
            DistKind::LogNormal => Family::LogNormal {
                mu: args.finite(0)?,
                sigma: args.positive(1)?,
            },
            DistKind::Uniform => {
                let (low, high) = (args.finite(0)?, args.finite(1)?);
                if low >= high {
                    return Err(args.error(format!(
                        "low must be less than high, got low = {low} and high = {high}"
                    )));
                }
                Family::Uniform { low, high }
            }
            DistKind::Exponential => Family::Exponential {
                rate: args.positive(0)?,
            },
            DistKind::Gamma => {
                let (shape, rate) = (args.positive(0)?, args.positive(1)?);
                let unit_rate =
                    rand_distr::Gamma::new(shape, 1.0).map_err(|e| args.sampler_error(e))?;
                Family::Gamma {
                    shape,
                    rate,
                    unit_rate,
                }
            }
            DistKind::Beta => {
                let (a, b) = (args.positive(0)?, args.positive(1)?);
                let sampler = rand_distr::Beta::new(a, b).map_err(|e| args.sampler_error(e))?;
                Family::Beta { a, b, sampler }
            }
            DistKind::Laplace => Family::Laplace {
                loc: args.finite(0)?,
                scale: args.positive(1)?,
            },
            DistKind::Cauchy => {
                let (loc, scale) = (args.finite(0)?, args.positive(1)?);
                let sampler =
                    rand_distr::Cauchy::new(loc, scale).map_err(|e| args.sampler_error(e))?;
                Family::Cauchy {
                    loc,
                    scale,
                    sampler,
                }
            }
            DistKind::StudentT => {
                let df = args.positive(0)?;
                let (loc, scale) = (args.finite(1)?, args.positive(2)?);
                let standard = rand_distr::StudentT::new(df).map_err(|e| args.sampler_error(e))?;
                Family::StudentT {
                    df,
                    loc,
                    scale,
                    standard,
                }
            }
            DistKind::Flip => Family::Flip {
                p: args.probability(0)?,
            },
            DistKind::Categorical => {
                let probs = args.vector(0)?;
                for (index, &weight) in probs.iter().enumerate() {
                    if !(weight >= 0.0 && weight.is_finite()) {
                        return Err(args.error(format!(
                            "probs[{index}] must be non-negative and finite, got {weight}"
                        )));
                    }
                }
                let total: f64 = probs.iter().sum();
                if (total - 1.0).abs() > CATEGORICAL_SUM_TOLERANCE {
                    return Err(args.error(format!(
                        "probs must sum to 1 (within {CATEGORICAL_SUM_TOLERANCE:e}), got a sum of {total}"
                    )));
                }
                Family::Categorical { probs, total }
            }
            DistKind::Geometric => {
                let p = args.probability(0)?;
                if p == 0.0 {
                    return Err(args.error("p must be in (0, 1], got 0".to_string()));
                }
                let sampler = rand_distr::Geometric::new(p).map_err(|e| args.sampler_error(e))?;
                Family::Geometric { p, sampler }
            }
            DistKind::Poisson => {
                let rate = args.positive(0)?;
                let limit = rand_distr::Poisson::<f64>::MAX_LAMBDA;
                if rate > limit {
                    return Err(args.error(format!(
                        "rate must be at most {limit:e} (the sampler's limit), got {rate:e}"
                    )));
                }
                let sampler = rand_distr::Poisson::new(rate).map_err(|e| args.sampler_error(e))?;
                Family::Poisson { rate, sampler }
            }
            DistKind::Binomial => {
                let n = args.int(0)?;
                if n < 0 {
                    return Err(args.error(format!("n must be non-negative, got {n}")));
                }
                let p = args.probability(1)?;
                let sampler =
                    rand_distr::Binomial::new(n as u64, p).map_err(|e| args.sampler_error(e))?;
                Family::Binomial { n, p, sampler }
            }
            DistKind::MvNormalDiag => {
                let mean = args.finite_vector(0)?;
                let scale = args.positive_vector(1)?;
                if scale.len() != mean.len() {
                    return Err(args.error(format!(
                        "scale must have the length of mean ({}), got length {}",
                        mean.len(),
                        scale.len()
                    )));
                }
                Family::MvNormalDiag { mean, scale }
            }
            DistKind::MvNormal => {
                let mean = args.finite_vector(0)?;
                let scale_tril = args.scale_tril(1, mean.len())?;
                Family::MvNormal { mean, scale_tril }
            }
            DistKind::Dirichlet => {
                let alpha = args.positive_vector(0)?;
                if let Some((index, value)) = alpha
                    .iter()
                    .enumerate()
                    .find(|(_, value)| !value.is_normal())
                {
                    // ln(u)/α would overflow to −∞ for every component.
                    return Err(args.error(format!(
                        "alpha[{index}] must be at least {:e}, got {value:e}",
                        f64::MIN_POSITIVE
                    )));
                }
                let unit_gammas = alpha
                    .iter()
                    .map(|&a| rand_distr::Gamma::new(if a < 1.0 { a + 1.0 } else { a }, 1.0))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| args.sampler_error(e))?;
                Family::Dirichlet { alpha, unit_gammas }
            }
            DistKind::Bernoulli => Family::Bernoulli {
                p: args.probability(0)?,
            },
            DistKind::BernoulliLogits => {
                let logit = args.finite(0)?;
                Family::BernoulliLogits {
                    logit,
                    p: vprog_compiler::special::sigmoid(logit),
                }
            }
            DistKind::CategoricalLogits => {
                let logits = args.finite_vector(0)?;
                let normalizer = vprog_compiler::special::log_sum_exp(logits);
                let log_probs: Vec<f64> = logits.iter().map(|l| l - normalizer).collect();
                let probs: Vec<f64> = log_probs.iter().map(|l| l.exp()).collect();
                let total = probs.iter().sum();
                Family::CategoricalLogits {
                    log_probs,
                    probs,
                    total,
                }
            }
        };
        Ok(Dist { family })
    }
}

/// The arguments of one distribution, checked for arity; the accessors
/// check kinds and values and name the parameter in their errors.
struct Arguments<'a, 'b> {
    kind: DistKind,
    args: &'b [DistArg<'a>],
}

impl<'a, 'b> Arguments<'a, 'b> {
    fn check(kind: DistKind, args: &'b [DistArg<'a>]) -> Result<Arguments<'a, 'b>, DistError> {
        let names = kind.param_names();
        if args.len() != names.len() {
            let plural = if names.len() == 1 { "" } else { "s" };
            return Err(DistError {
                message: format!(
                    "{kind}: expected {} argument{plural} ({}), got {}",
                    names.len(),
                    names.join(", "),
                    args.len()
                ),
            });
        }
        let checked = Arguments { kind, args };
        for (index, (&expected, arg)) in kind.param_kinds().iter().zip(args).enumerate() {
            // A `Dist` is one scalar choice of the elementwise families
            // (tensors are `Independent` choices of them), except for
            // `mv_normal_diag`, which is a vector; `categorical_logits` is
            // one choice, from a vector of logits.
            let expected = match expected {
                ParamKind::Tensor if kind == DistKind::MvNormalDiag => ParamKind::Vector,
                ParamKind::Tensor => ParamKind::Real,
                ParamKind::Logits => ParamKind::Vector,
                other => other,
            };
            let matches = matches!(
                (expected, arg),
                (ParamKind::Real, DistArg::Real(_) | DistArg::Int(_))
                    | (ParamKind::Int, DistArg::Int(_))
                    | (ParamKind::Vector, DistArg::Vector(_))
                    | (ParamKind::Matrix, DistArg::Matrix { .. })
            );
            if !matches {
                let wanted = match expected {
                    ParamKind::Real | ParamKind::Tensor => "a real number",
                    ParamKind::Int => "an integer",
                    ParamKind::Vector | ParamKind::Logits => "a vector",
                    ParamKind::Matrix => "a matrix",
                };
                return Err(
                    checked.param_error(index, format!("must be {wanted}, got {}", describe(arg)))
                );
            }
        }
        Ok(checked)
    }

    /// An error about the distribution as a whole.
    fn error(&self, message: String) -> DistError {
        DistError {
            message: format!("{}: {message}", self.kind),
        }
    }

    /// An error about parameter `index`: `"{dist}: {param} {message}"`.
    fn param_error(&self, index: usize, message: String) -> DistError {
        let name = self.kind.param_names()[index];
        self.error(format!("{name} {message}"))
    }

    /// A `rand_distr` constructor refused parameters that passed our checks
    /// (the checks are meant to make this unreachable).
    fn sampler_error(&self, error: impl std::fmt::Display) -> DistError {
        self.error(format!("the sampler rejected the parameters: {error}"))
    }

    fn real(&self, index: usize) -> f64 {
        match self.args[index] {
            DistArg::Real(value) => value,
            DistArg::Int(value) => value as f64,
            // `check` has matched the kinds.
            DistArg::Vector(_) | DistArg::Matrix { .. } => f64::NAN,
        }
    }

    fn finite(&self, index: usize) -> Result<f64, DistError> {
        let value = self.real(index);
        if value.is_finite() {
            Ok(value)
        } else {
            Err(self.param_error(index, format!("must be finite, got {value}")))
        }
    }

    fn positive(&self, index: usize) -> Result<f64, DistError> {
        let value = self.real(index);
        if value > 0.0 && value.is_finite() {
            Ok(value)
        } else {
            Err(self.param_error(index, format!("must be positive and finite, got {value}")))
        }
    }

    fn probability(&self, index: usize) -> Result<f64, DistError> {
        let value = self.real(index);
        if (0.0..=1.0).contains(&value) {
            Ok(value)
        } else {
            Err(self.param_error(index, format!("must be in [0, 1], got {value}")))
        }
    }

    fn int(&self, index: usize) -> Result<i64, DistError> {
        match self.args[index] {
            DistArg::Int(value) => Ok(value),
            ref other => Err(self.param_error(
                index,
                format!("must be an integer, got {}", describe(other)),
            )),
        }
    }

    fn vector(&self, index: usize) -> Result<&'a [f64], DistError> {
        match self.args[index] {
            DistArg::Vector(values) if !values.is_empty() => Ok(values),
            DistArg::Vector(_) => Err(self.param_error(index, "must not be empty".to_string())),
            ref other => {
                Err(self.param_error(index, format!("must be a vector, got {}", describe(other))))
            }
        }
    }

    /// A non-empty vector whose elements all satisfy `valid`, described by
    /// `requirement` in the error.
    fn vector_where(
        &self,
        index: usize,
        valid: impl Fn(f64) -> bool,
        requirement: &str,
    ) -> Result<&'a [f64], DistError> {
        let values = self.vector(index)?;
        match values.iter().enumerate().find(|&(_, &value)| !valid(value)) {
            None => Ok(values),
            Some((element, value)) => {
                let name = self.kind.param_names()[index];
                Err(self.error(format!(
                    "{name}[{element}] must be {requirement}, got {value}"
                )))
            }
        }
    }

    fn finite_vector(&self, index: usize) -> Result<&'a [f64], DistError> {
        self.vector_where(index, f64::is_finite, "finite")
    }

    fn positive_vector(&self, index: usize) -> Result<&'a [f64], DistError> {
        self.vector_where(index, |v| v > 0.0 && v.is_finite(), "positive and finite")
    }

    /// A `dimension`-square lower-triangular matrix with a positive finite
    /// diagonal and finite entries below it.
    fn scale_tril(&self, index: usize, dimension: usize) -> Result<&'a [f64], DistError> {
        let (data, rows, cols) = match self.args[index] {
            DistArg::Matrix { data, rows, cols } => (data, rows, cols),
            ref other => {
                return Err(
                    self.param_error(index, format!("must be a matrix, got {}", describe(other)))
                );
            }
        };
        let name = self.kind.param_names()[index];
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(self.error(format!(
                "{name} has {} entries, which does not fit its shape {rows}×{cols}",
                data.len()
            )));
        }
        if rows != dimension || cols != dimension {
            return Err(self.error(format!(
                "{name} must be {dimension}×{dimension} to match mean (length {dimension}), got {rows}×{cols}"
            )));
        }
        for row in 0..dimension {
            for col in 0..dimension {
                let value = data[row * dimension + col];
                let problem = if col > row && value != 0.0 {
                    Some("must be 0 (the matrix must be lower-triangular)")
                } else if col == row && !(value > 0.0 && value.is_finite()) {
                    Some("(a diagonal entry) must be positive and finite")
                } else if !value.is_finite() {
                    Some("must be finite")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(self.error(format!("{name}[{row}, {col}] {problem}, got {value}")));
                }
            }
        }
        Ok(data)
    }
}

/// How an argument reads in an error message.
fn describe(arg: &DistArg<'_>) -> String {
    match *arg {
        DistArg::Real(value) => format!("the real number {value}"),
        DistArg::Int(value) => format!("the integer {value}"),
        DistArg::Vector(values) => format!("a vector of length {}", values.len()),
        DistArg::Matrix { rows, cols, .. } => format!("a {rows}×{cols} matrix"),
    }
}
