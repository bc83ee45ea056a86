// The built-in runtime adapters (see Registry.h).
#include "runtime/adapters/Registry.h"

namespace dpl::runtime {

namespace {
const AdapterKind kKinds[] = {
    {"process", [](const Plan &plan, const std::string &) { return makeProcessAdapter(plan); }},
    {"static", [](const Plan &, const std::string &) { return makeStaticAdapter(); }},
};
} // namespace

llvm::ArrayRef<AdapterKind> adapterKinds() { return kKinds; }

const AdapterKind *findAdapterKind(llvm::StringRef kind) {
  for (const AdapterKind &k : kKinds)
    if (kind == k.kind)
      return &k;
  return nullptr;
}

} // namespace dpl::runtime
