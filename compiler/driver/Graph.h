// `deployc graph`: the environment DAG with each unit's gates and
// verifications, as Graphviz DOT or Mermaid.
#pragma once

#include "compiler/merge/Merge.h"
#include "compiler/sema/Model.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl {

void graphDot(const Model &model, const MergeResult &merged, llvm::raw_ostream &os);
void graphMermaid(const Model &model, const MergeResult &merged, llvm::raw_ostream &os);

} // namespace dpl
