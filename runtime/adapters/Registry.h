// Runtime adapters by kind (the `kind` of a unit's runtime binding): a
// table of factories, one instance made per environment and kind, so the
// daemon names no runtime. Adding a runtime is its adapter file plus one
// line in Registry.cpp's table (ARCHITECTURE.md, "Registries, not switches").
#pragma once

#include "runtime/adapters/Adapter.h"

#include <llvm/ADT/ArrayRef.h>

namespace dpl::runtime {

struct AdapterKind {
  const char *kind;
  /// One adapter for `environment`'s units of this kind.
  std::unique_ptr<Adapter> (*make)(const Plan &plan, const std::string &environment);
};

/// The factory for `kind`, or null when no adapter is built for it.
const AdapterKind *findAdapterKind(llvm::StringRef kind);
llvm::ArrayRef<AdapterKind> adapterKinds();

} // namespace dpl::runtime
