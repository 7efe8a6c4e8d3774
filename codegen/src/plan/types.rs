//! Types: union-find over type variables. A source fixes its variables to
//! the declared types; each operator gives its output's variables from its
//! input's ([`crate::ops::Operator::types`]): passed on, fresh (inferred by
//! rustc from the user's closures), `Windowed<..>` or `Option<..>` of
//! another; `merge` unifies its inputs. Every class without a declared type
//! becomes a generic parameter of the generated processors.

use crate::ctxt::Errors;
use crate::graph::Graph;
use quote::ToTokens;
use syn::Type;

/// A type variable's resolution.
#[derive(Clone)]
pub enum Ty {
    /// A declared type.
    Concrete(Type),
    /// Inferred by rustc: generic parameter number `n`.
    Generic(usize),
    /// `Windowed<T>` of another variable: windowed aggregations' keys.
    Windowed(usize),
    /// `Option<T>` of another variable: the values of a table that can hold
    /// tombstones (`None`).
    Optional(usize),
}

/// Key and value type variables of every node's output.
pub struct Types {
    parent: Vec<usize>,
    concrete: Vec<Option<Type>>,
    /// `Some(inner)` for a variable that is `Windowed<inner>`.
    windowed: Vec<Option<usize>>,
    /// `Some(inner)` for a variable that is `Option<inner>`.
    optional: Vec<Option<usize>>,
    /// `(key var, value var)` of each node's output (for sinks: of their input).
    pub node: Vec<(usize, usize)>,
}

impl Types {
    pub(crate) fn fresh(&mut self, ty: Option<Type>) -> usize {
        self.parent.push(self.parent.len());
        self.concrete.push(ty);
        self.windowed.push(None);
        self.optional.push(None);
        self.parent.len() - 1
    }

    /// The declared type of `v`'s class, if any.
    pub(crate) fn concrete_of(&self, v: usize) -> Option<Type> {
        self.concrete[self.find(v)].clone()
    }

    pub(crate) fn fresh_optional(&mut self, inner: usize) -> usize {
        let v = self.fresh(None);
        self.optional[v] = Some(inner);
        v
    }

    /// The inner variable when `v` is `Option<inner>`.
    pub fn optional_inner(&self, v: usize) -> Option<usize> {
        let r = self.find(v);
        if self.concrete[r].is_some() {
            return None;
        }
        self.optional[r]
    }

    pub(crate) fn fresh_windowed(&mut self, inner: usize) -> usize {
        let v = self.fresh(None);
        self.windowed[v] = Some(inner);
        v
    }

    fn find(&self, mut v: usize) -> usize {
        while self.parent[v] != v {
            v = self.parent[v];
        }
        v
    }

    pub(crate) fn union(&mut self, a: usize, b: usize) -> Result<(), (Type, Type)> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(());
        }
        match (self.concrete[ra].clone(), self.concrete[rb].clone()) {
            (Some(x), Some(y))
                if x.to_token_stream().to_string() != y.to_token_stream().to_string() =>
            {
                return Err((x, y));
            }
            (None, Some(y)) => self.concrete[ra] = Some(y),
            _ => {}
        }
        if self.optional[ra].is_none() {
            self.optional[ra] = self.optional[rb];
        }
        if self.windowed[ra].is_none() {
            self.windowed[ra] = self.windowed[rb];
        }
        self.parent[rb] = ra;
        Ok(())
    }

    /// What variable `v` resolves to.
    pub fn resolve(&self, v: usize) -> Ty {
        let r = self.find(v);
        match (&self.concrete[r], self.windowed[r], self.optional[r]) {
            (Some(t), _, _) => Ty::Concrete(t.clone()),
            (None, Some(inner), _) => Ty::Windowed(inner),
            (None, None, Some(inner)) => Ty::Optional(inner),
            (None, None, None) => Ty::Generic(r),
        }
    }
}

/// `T` when `ty` is written `Option<T>` (or with a path to `Option`).
pub(crate) fn option_arg(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first() {
        Some(syn::GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner.clone()),
        _ => None,
    }
}

pub(crate) fn solve_types(graph: &Graph, errors: &mut Errors) -> Types {
    let mut t = Types {
        parent: Vec::new(),
        concrete: Vec::new(),
        windowed: Vec::new(),
        optional: Vec::new(),
        node: Vec::new(),
    };
    for node in &graph.nodes {
        let input = node.inputs.first().map(|&i| t.node[i]);
        let (k, v) = input.unwrap_or((usize::MAX, usize::MAX));
        let out = node.kind.op().types(&mut t, node, graph, (k, v), errors);
        t.node.push(out);
    }
    t
}
