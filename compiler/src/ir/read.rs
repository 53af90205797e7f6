//! Reading the textual IR back (the inverse of `print.rs`).
//!
//! Used by tests, which write expected IR by hand, and by tools. The reader
//! checks syntax and name binding; the verifier checks types and scoping.

use super::{Builder, DYNAMIC, Elem, Function, OpKind, Region, SiteInfo, Type, ValueId};
use crate::dist::{DistKind, StrategyKind};
use crate::prim::{AxisReduction, GuardKind, Prim};
use std::collections::HashMap;
use std::fmt;

/// A syntax error in textual IR.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadError {
    /// 1-based line of the error.
    pub line: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Value(String),
    Func(String),
    Word(String),
    Str(String),
    Punct(char),
    Arrow,
}

struct Lexer {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ReadError> {
    let mut toks = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut line = 1;
    let word_char = |c: char| c.is_alphanumeric() || c == '_' || c == '.' || c == '-' || c == '+';
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '%' | '@' => {
                let start = i + 1;
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                toks.push((
                    if c == '%' {
                        Tok::Value(name)
                    } else {
                        Tok::Func(name)
                    },
                    line,
                ));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None | Some('\n') => {
                            return Err(ReadError {
                                line,
                                message: "unterminated string".into(),
                            });
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let e = chars.get(i + 1).copied().unwrap_or('\\');
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                toks.push((Tok::Str(s), line));
            }
            '-' if chars.get(i + 1) == Some(&'>') => {
                toks.push((Tok::Arrow, line));
                i += 2;
            }
            c if word_char(c) => {
                let start = i;
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                toks.push((Tok::Word(chars[start..i].iter().collect()), line));
            }
            '(' | ')' | '{' | '}' | '<' | '>' | '[' | ']' | ',' | ':' | '=' | '?' => {
                toks.push((Tok::Punct(c), line));
                i += 1;
            }
            other => {
                return Err(ReadError {
                    line,
                    message: format!("unexpected character `{other}`"),
                });
            }
        }
    }
    Ok(toks)
}

impl Lexer {
    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(1, |t| t.1)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ReadError> {
        Err(ReadError {
            line: self.line(),
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.0)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.0.clone());
        self.pos += 1;
        t
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ReadError> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(format!("expected `{c}`, found {:?}", self.peek()))
        }
    }

    fn word(&mut self) -> Result<String, ReadError> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => self.err(format!("expected a word, found {other:?}")),
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), ReadError> {
        let got = self.word()?;
        if got == w {
            Ok(())
        } else {
            self.err(format!("expected `{w}`, found `{got}`"))
        }
    }

    fn usize(&mut self) -> Result<usize, ReadError> {
        let w = self.word()?;
        w.parse()
            .or_else(|_| self.err(format!("expected a number, found `{w}`")))
    }

    /// `key=value` where value is a number.
    fn keyed(&mut self, key: &str) -> Result<usize, ReadError> {
        self.expect_word(key)?;
        self.expect('=')?;
        self.usize()
    }

    fn ty(&mut self) -> Result<Type, ReadError> {
        let elem = match self.word()?.as_str() {
            "f64" => Elem::F64,
            "i64" => Elem::I64,
            "bool" => Elem::Bool,
            other => return self.err(format!("unknown element type `{other}`")),
        };
        let mut shape = Vec::new();
        if self.eat('[') {
            loop {
                if self.eat('?') {
                    shape.push(DYNAMIC);
                } else {
                    shape.push(self.usize()?);
                }
                if !self.eat(',') {
                    break;
                }
            }
            self.expect(']')?;
        }
        Ok(Type::tensor(elem, shape))
    }
}

/// An error at `line`.
fn at_line<T>(line: usize, message: String) -> Result<T, ReadError> {
    Err(ReadError { line, message })
}

struct Reader<'l, 'f, 'b> {
    lx: &'l mut Lexer,
    b: &'b mut Builder<'f>,
    names: HashMap<String, ValueId>,
}

impl Reader<'_, '_, '_> {
    fn value(&mut self) -> Result<ValueId, ReadError> {
        match self.lx.next() {
            Some(Tok::Value(n)) => match self.names.get(&n) {
                Some(&v) => Ok(v),
                None => self.lx.err(format!("use of undefined value %{n}")),
            },
            other => self.lx.err(format!("expected a value, found {other:?}")),
        }
    }

    fn value_list(&mut self) -> Result<Vec<ValueId>, ReadError> {
        let mut vs = Vec::new();
        while matches!(self.lx.peek(), Some(Tok::Value(_))) {
            vs.push(self.value()?);
            if !self.lx.eat(',') {
                break;
            }
        }
        Ok(vs)
    }

    fn define(&mut self, name: String, ty: Type) -> ValueId {
        let v = self.b.fresh(ty);
        self.names.insert(name, v);
        v
    }

    /// `(%a: T, %b: U):` at the start of a region, if present.
    fn region_params(&mut self) -> Result<Vec<ValueId>, ReadError> {
        let mut params = Vec::new();
        if self.lx.peek() == Some(&Tok::Punct('(')) {
            self.lx.expect('(')?;
            while let Some(Tok::Value(n)) = self.lx.peek().cloned() {
                self.lx.next();
                self.lx.expect(':')?;
                let ty = self.lx.ty()?;
                params.push(self.define(n, ty));
                if !self.lx.eat(',') {
                    break;
                }
            }
            self.lx.expect(')')?;
            self.lx.expect(':')?;
        }
        Ok(params)
    }

    /// The body of a `{ ... }` region after its opening brace, through the
    /// closing brace.
    fn region(&mut self) -> Result<Region, ReadError> {
        let params = self.region_params()?;
        let names = std::mem::take(&mut self.names);
        let lx = &mut *self.lx;
        let mut names_back = None;
        let result = self.b.try_region(&[], |b, _| {
            let mut inner = Reader { lx, b, names };
            let out = inner.ops_until_yield();
            names_back = Some(inner.names);
            out
        });
        self.names = names_back.unwrap_or_default();
        let mut region = result?;
        region.params = params;
        self.lx.expect('}')?;
        Ok(region)
    }

    fn ops_until_yield(&mut self) -> Result<Vec<ValueId>, ReadError> {
        loop {
            if let Some(Tok::Word(w)) = self.lx.peek()
                && (w == "yield" || w == "return")
            {
                self.lx.next();
                return self.value_list();
            }
            self.op()?;
        }
    }

    fn op(&mut self) -> Result<(), ReadError> {
        // Errors found after the operation's tokens are read name its line.
        let line = self.lx.line();
        let mut result_names = Vec::new();
        while let Some(Tok::Value(n)) = self.lx.peek().cloned() {
            self.lx.next();
            result_names.push(n);
            if !self.lx.eat(',') {
                break;
            }
        }
        if !result_names.is_empty() {
            self.lx.expect('=')?;
        }
        let name = self.lx.word()?;
        // Attributes and literals before the operands.
        let mut literal: Option<String> = None;
        let kind_builder = self.head(&name, &mut literal)?;
        let args = self.value_list()?;
        let mut types = Vec::new();
        if self.lx.eat(':') {
            loop {
                types.push(self.lx.ty()?);
                if !self.lx.eat(',') {
                    break;
                }
            }
        }
        if types.len() != result_names.len() {
            return at_line(
                line,
                format!(
                    "{} result name(s) but {} type(s)",
                    result_names.len(),
                    types.len()
                ),
            );
        }
        let kind = match kind_builder {
            Head::Kind(k) => k,
            Head::Const => {
                let lit = literal.unwrap_or_default();
                let ty = types.first().cloned().unwrap_or_else(Type::f64);
                let prim = match ty.elem {
                    Elem::F64 => Prim::ConstF64(
                        lit.parse()
                            .or_else(|_| at_line(line, format!("bad f64 literal `{lit}`")))?,
                    ),
                    Elem::I64 => Prim::ConstI64(
                        lit.parse()
                            .or_else(|_| at_line(line, format!("bad i64 literal `{lit}`")))?,
                    ),
                    Elem::Bool => Prim::ConstBool(
                        lit.parse()
                            .or_else(|_| at_line(line, format!("bad bool literal `{lit}`")))?,
                    ),
                };
                OpKind::Prim(prim)
            }
        };
        let mut regions = Vec::new();
        match kind {
            OpKind::If => {
                self.lx.expect('{')?;
                regions.push(self.region()?);
                self.lx.expect_word("else")?;
                self.lx.expect('{')?;
                regions.push(self.region()?);
            }
            OpKind::For { .. } => {
                self.lx.expect('{')?;
                regions.push(self.region()?);
            }
            _ => {}
        }
        let results = self.b.push(kind, args, types.clone(), regions);
        for (n, v) in result_names.into_iter().zip(results) {
            self.names.insert(n, v);
        }
        Ok(())
    }

    fn head(&mut self, name: &str, literal: &mut Option<String>) -> Result<Head, ReadError> {
        let lx = &mut *self.lx;
        Ok(Head::Kind(match name {
            "const" => {
                *literal = Some(lx.word()?);
                return Ok(Head::Const);
            }
            "const_tensor" => {
                lx.expect('<')?;
                lx.expect('[')?;
                let mut shape = Vec::new();
                while !lx.eat(']') {
                    shape.push(lx.usize()?);
                    lx.eat(',');
                }
                let mut data = Vec::new();
                while !lx.eat('>') {
                    let w = lx.word()?;
                    data.push(w.parse().or_else(|_| lx.err(format!("bad f64 `{w}`")))?);
                    lx.eat(',');
                }
                OpKind::Prim(Prim::ConstTensor {
                    shape,
                    data: data.into(),
                })
            }
            "polygamma" => {
                lx.expect('<')?;
                let n = lx.usize()?;
                lx.expect('>')?;
                OpKind::Prim(Prim::Polygamma(n as u32))
            }
            "broadcast" => {
                lx.expect('<')?;
                let mut shape = Vec::new();
                while !lx.eat('>') {
                    shape.push(lx.usize()?);
                    lx.eat(',');
                }
                OpKind::Prim(Prim::Broadcast(shape))
            }
            "reshape" => {
                lx.expect('<')?;
                let mut shape = Vec::new();
                while !lx.eat('>') {
                    shape.push(lx.usize()?);
                    lx.eat(',');
                }
                OpKind::Prim(Prim::Reshape(shape))
            }
            "slice" => {
                lx.expect('<')?;
                let start = lx.keyed("start")?;
                lx.expect(',')?;
                let len = lx.keyed("len")?;
                lx.expect('>')?;
                OpKind::Prim(Prim::Slice { start, len })
            }
            "expand" => {
                lx.expect('<')?;
                let axis = lx.keyed("axis")?;
                lx.expect(',')?;
                let n = lx.keyed("n")?;
                lx.expect('>')?;
                OpKind::Prim(Prim::Expand { axis, n })
            }
            _ if AxisReduction::from_prim_name(name).is_some() => {
                let op = AxisReduction::from_prim_name(name).expect("checked");
                lx.expect('<')?;
                let axis = lx.usize()?;
                lx.expect('>')?;
                OpKind::Prim(Prim::Reduce { op, axis })
            }
            "guard" => {
                lx.expect('<')?;
                let k = lx.word()?;
                let kind = GuardKind::from_name(&k)
                    .map_or_else(|| lx.err(format!("unknown guard `{k}`")), Ok)?;
                lx.expect(',')?;
                let what = match lx.next() {
                    Some(Tok::Str(s)) => s,
                    other => return lx.err(format!("expected a string, found {other:?}")),
                };
                lx.expect('>')?;
                OpKind::Prim(Prim::Guard { kind, what })
            }
            "host" | "host_partial" => {
                lx.expect('<')?;
                let id = lx.keyed("id")? as u32;
                lx.expect(',')?;
                let arity = lx.keyed("arity")? as u32;
                let prim = if name == "host" {
                    Prim::Host { id, arity }
                } else {
                    lx.expect(',')?;
                    let wrt = lx.keyed("wrt")? as u32;
                    Prim::HostPartial { id, arity, wrt }
                };
                lx.expect('>')?;
                OpKind::Prim(prim)
            }
            "if" => OpKind::If,
            "for" => {
                lx.expect('<')?;
                let stacked = lx.keyed("stacked")?;
                lx.expect('>')?;
                OpKind::For {
                    stacked: stacked as u32,
                }
            }
            "add_cost" => OpKind::AddCost,
            "sample" => {
                lx.expect('<')?;
                let dist = dist_named(lx)?;
                lx.expect(',')?;
                let site = lx.keyed("site")? as u32;
                lx.expect(',')?;
                let s = lx.word()?;
                let strategy = StrategyKind::from_name(&s)
                    .map_or_else(|| lx.err(format!("unknown strategy `{s}`")), Ok)?;
                let mut explicit_strategy = false;
                let mut has_baseline = false;
                let mut detached = false;
                while lx.eat(',') {
                    match lx.word()?.as_str() {
                        "explicit" => explicit_strategy = true,
                        "baseline" => has_baseline = true,
                        "detached" => detached = true,
                        other => return lx.err(format!("unknown sample attribute `{other}`")),
                    }
                }
                lx.expect('>')?;
                OpKind::Sample(SiteInfo {
                    site,
                    dist,
                    strategy,
                    explicit_strategy,
                    has_baseline,
                    detached,
                })
            }
            "draw" => {
                lx.expect('<')?;
                let dist = dist_named(lx)?;
                lx.expect(',')?;
                let site = lx.keyed("site")? as u32;
                lx.expect(',')?;
                let stream = lx.keyed("stream")? as u32;
                lx.expect(',')?;
                let num_params = lx.keyed("params")? as u32;
                let batch = if lx.eat(',') {
                    lx.keyed("batch")? as u32
                } else {
                    0
                };
                lx.expect('>')?;
                OpKind::Draw {
                    dist,
                    site,
                    stream,
                    num_params,
                    batch,
                }
            }
            "enum_value" => {
                lx.expect('<')?;
                let site = lx.keyed("site")? as u32;
                let boolean = lx.eat(',') && {
                    lx.expect_word("bool")?;
                    true
                };
                lx.expect('>')?;
                OpKind::EnumValue { site, boolean }
            }
            "mvd_value" => {
                lx.expect('<')?;
                let dist = dist_named(lx)?;
                lx.expect(',')?;
                let site = lx.keyed("site")? as u32;
                lx.expect(',')?;
                let num_params = lx.keyed("params")? as u32;
                lx.expect('>')?;
                OpKind::MvdValue {
                    dist,
                    site,
                    num_params,
                }
            }
            "mvd_cotangent" => {
                lx.expect('<')?;
                let site = lx.keyed("site")? as u32;
                lx.expect('>')?;
                OpKind::MvdCotangent { site }
            }
            "subsample" => {
                lx.expect('<')?;
                let n = lx.keyed("n")? as u32;
                lx.expect(',')?;
                let m = lx.keyed("m")? as u32;
                lx.expect('>')?;
                OpKind::Subsample { n, m }
            }
            other => match simple_prim(other) {
                Some(p) => OpKind::Prim(p),
                None => return lx.err(format!("unknown operation `{other}`")),
            },
        }))
    }
}

enum Head {
    Kind(OpKind),
    Const,
}

fn dist_named(lx: &mut Lexer) -> Result<DistKind, ReadError> {
    let d = lx.word()?;
    DistKind::from_name(&d).map_or_else(|| lx.err(format!("unknown distribution `{d}`")), Ok)
}

/// The primitives without attributes, by printed name.
fn simple_prim(name: &str) -> Option<Prim> {
    const SIMPLE: &[Prim] = &[
        Prim::Neg,
        Prim::Exp,
        Prim::Log,
        Prim::Log1p,
        Prim::Expm1,
        Prim::Sqrt,
        Prim::Sin,
        Prim::Cos,
        Prim::Tan,
        Prim::Atan,
        Prim::Tanh,
        Prim::Sigmoid,
        Prim::Softplus,
        Prim::Abs,
        Prim::Sign,
        Prim::Floor,
        Prim::Lgamma,
        Prim::Digamma,
        Prim::Add,
        Prim::Sub,
        Prim::Mul,
        Prim::Div,
        Prim::Rem,
        Prim::Pow,
        Prim::Max,
        Prim::Min,
        Prim::GammaP,
        Prim::GammaPDa,
        Prim::Lt,
        Prim::Le,
        Prim::Gt,
        Prim::Ge,
        Prim::Eq,
        Prim::Ne,
        Prim::And,
        Prim::Or,
        Prim::Not,
        Prim::Select,
        Prim::IntToF64,
        Prim::BoolToF64,
        Prim::F64ToInt,
        Prim::BroadcastLike,
        Prim::Pack,
        Prim::Index,
        Prim::IndexAdd,
        Prim::Sum,
        Prim::LogSumExp,
        Prim::ReduceMax,
        Prim::MatVec { transpose: false },
        Prim::MatVec { transpose: true },
        Prim::Outer,
        Prim::TriSolve { transpose: false },
        Prim::TriSolve { transpose: true },
        Prim::Tril,
        Prim::Diagonal,
        Prim::DiagMatrix,
        Prim::MatMul {
            transpose_a: false,
            transpose_b: false,
        },
        Prim::MatMul {
            transpose_a: true,
            transpose_b: false,
        },
        Prim::MatMul {
            transpose_a: false,
            transpose_b: true,
        },
        Prim::MatMul {
            transpose_a: true,
            transpose_b: true,
        },
        Prim::Transpose,
        Prim::Concat,
        Prim::Gather,
        Prim::ScatterAdd,
        Prim::StopGrad,
    ];
    SIMPLE.iter().find(|p| p.name() == name).cloned()
}

/// Reads one function in the textual form `print_function` produces.
pub fn read_function(text: &str) -> Result<Function, ReadError> {
    let mut lx = Lexer {
        toks: lex(text)?,
        pos: 0,
    };
    lx.expect_word("func")?;
    let name = match lx.next() {
        Some(Tok::Func(n)) => n,
        other => return lx.err(format!("expected `@name`, found {other:?}")),
    };
    let mut func = Function::new(name);
    let mut b = Builder::new(&mut func);
    let mut names = HashMap::new();
    lx.expect('(')?;
    let mut params = Vec::new();
    while let Some(Tok::Value(n)) = lx.peek().cloned() {
        lx.next();
        lx.expect(':')?;
        let ty = lx.ty()?;
        let v = b.fresh(ty);
        names.insert(n, v);
        params.push(v);
        if !lx.eat(',') {
            break;
        }
    }
    lx.expect(')')?;
    if lx.next() != Some(Tok::Arrow) {
        return lx.err("expected `->`");
    }
    lx.expect('(')?;
    while !lx.eat(')') {
        lx.ty()?;
        lx.eat(',');
    }
    lx.expect('{')?;
    let mut reader = Reader {
        lx: &mut lx,
        b: &mut b,
        names,
    };
    let results = reader.ops_until_yield()?;
    lx.expect('}')?;
    if lx.peek().is_some() {
        return lx.err("text after the end of the function");
    }
    b.finish(params, results);
    Ok(func)
}
