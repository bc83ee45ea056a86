// `deployc explain`: every resolved value, guard and constraint of one unit
// with where it came from (text for reviewers, JSON for tools).
#pragma once

#include "compiler/merge/Merge.h"

#include <llvm/Support/raw_ostream.h>

namespace dpl {

void explainUnitText(const Unit &unit, llvm::raw_ostream &os);
void explainUnitJson(const Unit &unit, llvm::raw_ostream &os);

} // namespace dpl
