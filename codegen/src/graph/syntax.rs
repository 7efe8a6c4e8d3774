//! Reading the user's expressions: closure arities, string literals, topic
//! names, windows.

use syn::{Expr, LitStr};

/// The number of parameters of a closure literal (`None` for other expressions).
pub fn closure_arity(expr: &Expr) -> Option<usize> {
    match expr {
        Expr::Closure(c) => Some(c.inputs.len()),
        Expr::Paren(p) => closure_arity(&p.expr),
        _ => None,
    }
}

pub(crate) fn string_lit(expr: &Expr) -> Option<LitStr> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(s),
            ..
        }) => Some(s.clone()),
        Expr::Group(g) => string_lit(&g.expr),
        _ => None,
    }
}

/// `Duration::ZERO` or `Duration::from_*(0)`, written literally.
pub(crate) fn is_zero_duration(expr: &Expr) -> bool {
    match expr {
        Expr::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "ZERO"),
        Expr::Call(c) => {
            matches!(&*c.func, Expr::Path(p) if p.path.segments.last().is_some_and(|s| s.ident.to_string().starts_with("from_")))
                && c.args.len() == 1
                && matches!(&c.args[0], Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(i), .. }) if i.base10_digits() == "0")
        }
        _ => false,
    }
}

/// Kafka's rule for topic names: 1..=249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The innermost call of a windows expression (`TimeWindows::of_size_..(..)`
/// in `TimeWindows::of_size_..(..).advance_by(..)`) and the type it is
/// called on (`"TimeWindows"`).
pub(crate) fn windows_call(expr: &Expr) -> Option<(String, &syn::ExprCall)> {
    let mut e = expr;
    while let Expr::MethodCall(m) = e {
        e = &m.receiver;
    }
    let Expr::Call(c) = e else { return None };
    let Expr::Path(p) = &*c.func else { return None };
    let segments: Vec<String> = p
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let kind = segments.get(segments.len().checked_sub(2)?)?.clone();
    Some((kind, c))
}

/// Whether a (checked) `windowed_by` argument builds `SlidingWindows`.
pub fn is_sliding(expr: &Expr) -> bool {
    windows_call(expr).is_some_and(|(kind, _)| kind == "SlidingWindows")
}

/// Whether a (checked) `windowed_by` argument builds `SessionWindows`.
pub fn is_session(expr: &Expr) -> bool {
    windows_call(expr).is_some_and(|(kind, _)| kind == "SessionWindows")
}

/// Whether a (checked) `windowed_by` argument builds `TimeWindows`.
pub fn is_time_windows(expr: &Expr) -> bool {
    windows_call(expr).is_some_and(|(kind, _)| kind == "TimeWindows")
}
