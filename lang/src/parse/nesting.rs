//! A bound on how deeply a parsed item nests.
//!
//! pest protects its own recursion (it fails with "stack limit reached"),
//! but everything after it recurses over the tree too: the builder and its
//! Pratt parser, the AST's `Drop`, the printer and every later pass. A
//! program nesting thousands of levels deep would overflow their stacks, so
//! the parser measures each item's parse tree before building it and
//! rejects the item when it is deeper than [`MAX_NESTING`].
//!
//! The measure follows the AST's depth. It counts, along each path of the
//! parse tree, the pairs that become nested AST nodes — expressions,
//! blocks, `if`s, `sim`s, types and patterns — and one more for each
//! operator, call, field or index before the operand: the AST chains those
//! (`a + b + c` is `(a + b) + c`, `x[0][0]` is `(x[0])[0]`). The walk is
//! iterative, so measuring cannot overflow the stack either.

use pest::iterators::Pair;

use super::grammar::Rule;

/// The deepest nesting the parser accepts. Ordinary programs stay far
/// below it: a level of source nesting, such as a call whose argument is a
/// block, costs two to four.
pub(super) const MAX_NESTING: usize = 256;

/// Rules that become AST nodes which can nest without bound.
fn is_nesting(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::expr | Rule::block | Rule::if_expr | Rule::sim_expr | Rule::type_expr | Rule::pattern
    )
}

/// Rules that make the operands after them one level deeper in the AST.
fn is_chain_link(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::or_op
            | Rule::and_op
            | Rule::eq_op
            | Rule::ne_op
            | Rule::le_op
            | Rule::ge_op
            | Rule::lt_op
            | Rule::gt_op
            | Rule::add_op
            | Rule::sub_op
            | Rule::mul_op
            | Rule::div_op
            | Rule::pow_op
            | Rule::neg_op
            | Rule::not_op
            | Rule::call_suffix
            | Rule::tuple_field_suffix
            | Rule::field_suffix
            | Rule::index_suffix
    )
}

/// The first pair of `root`'s tree (in pre-order) deeper than
/// [`MAX_NESTING`], if any.
pub(super) fn too_deep<'i>(root: &Pair<'i, Rule>) -> Option<Pair<'i, Rule>> {
    // The ancestors of the current pair: (start, end, depth). A link in a
    // chain deepens its parent's entry, so the siblings after it are deeper.
    // A pair that does not nest has its parent's depth.
    let span = root.as_span();
    let mut ancestors = vec![(span.start(), span.end(), 0usize)];
    for pair in root.clone().into_inner().flatten() {
        let (start, end) = (pair.as_span().start(), pair.as_span().end());
        while ancestors.len() > 1 {
            let (parent_start, parent_end, _) = ancestors[ancestors.len() - 1];
            if parent_start <= start && end <= parent_end {
                break;
            }
            ancestors.pop();
        }
        let last = ancestors.len() - 1;
        if is_chain_link(pair.as_rule()) {
            ancestors[last].2 += 1;
        }
        let depth = ancestors[last].2 + usize::from(is_nesting(pair.as_rule()));
        if depth > MAX_NESTING {
            return Some(pair);
        }
        ancestors.push((start, end, depth));
    }
    None
}
