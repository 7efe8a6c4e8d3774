//! The runtime's static plan (`weir::__private::Plan`) as tokens: what the
//! compiled topology reads and writes, its stores and sub-topologies.

use super::*;
use proc_macro2::TokenStream;
use quote::quote;

/// The generated function checking the records of store `index`'s source
/// topic (a `table(topic)` store), named in the plan.
pub fn source_check_fn(index: usize) -> syn::Ident {
    quote::format_ident!("__weir_source_check_{}", index)
}

impl Description {
    /// The `Plan` static for the runtime.
    pub fn plan_tokens(&self, p: &TokenStream) -> TokenStream {
        let name = &self.name;
        let subs = self.entries.iter().zip(&self.sub_flags).map(|(entries, &(clocked, cached, copartitioned))| {
            let sources = entries.iter().map(|(name, topics)| {
                let topics = topics.iter().map(|t| match t {
                    TopicName::Named(n) => quote!(#p::TopicRef::Named(#n)),
                    TopicName::Internal(i) => quote!(#p::TopicRef::Internal(#i)),
                });
                quote!(#p::SourcePlan { name: #name, topics: &[#(#topics),*] })
            });
            quote!(#p::SubTopologyPlan { copartitioned: #copartitioned, sources: &[#(#sources),*], clocked: #clocked, cached: #cached })
        });
        let internal = self.internal.iter().map(|(name, partitions, writer, kind)| {
            let partitions = match partitions {
                Some(n) => quote!(::core::option::Option::Some(#n)),
                None => quote!(::core::option::Option::None),
            };
            let kind = match kind {
                InternalKind::Repartition => quote!(#p::InternalTopicKind::Repartition),
                InternalKind::Changelog => quote!(#p::InternalTopicKind::Changelog),
            };
            quote!(#p::InternalTopic { name: #name, partitions: #partitions, written_by: #writer, kind: #kind })
        });
        let stores = self.stores.iter().enumerate().map(|(i, (name, sub, changelog, in_memory, kind, source))| {
            let kind = match kind {
                StoreKind::KeyValue => quote!(#p::StoreKind::KeyValue),
                StoreKind::Window => quote!(#p::StoreKind::Window),
                StoreKind::Session => quote!(#p::StoreKind::Session),
            };
            let backend = if *in_memory {
                quote!(#p::Backend::InMemory)
            } else {
                quote!(#p::Backend::RocksDb)
            };
            let (changelog, source, check) = match source {
                Some(topic) => {
                    let check = source_check_fn(i);
                    (quote!(::core::option::Option::None), quote!(::core::option::Option::Some(#topic)), quote!(::core::option::Option::Some(#check)))
                }
                None => (quote!(::core::option::Option::Some(#changelog)), quote!(::core::option::Option::None), quote!(::core::option::Option::None)),
            };
            quote!(#p::StorePlan { name: #name, subtopology: #sub, changelog: #changelog, source_changelog: #source, source_check: #check, backend: #backend, kind: #kind })
        });
        let text = self.text();
        let mermaid = self.mermaid();
        quote! {
            #p::Plan {
                name: #name,
                subtopologies: &[#(#subs),*],
                internal_topics: &[#(#internal),*],
                stores: &[#(#stores),*],
                description: #text,
                mermaid: #mermaid,
            }
        }
    }
}
