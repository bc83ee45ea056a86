// Diagnostic table and collection.
#include "compiler/basic/Diagnostics.h"

#include <algorithm>

namespace dpl {

static const DiagInfo kDiagTable[] = {
#define DIAG(ID, SEV, NAME, FMT) {#ID, Severity::SEV, #NAME, FMT},
#include "compiler/basic/Diagnostics.def"
};

const DiagInfo &diagInfo(DiagId id) { return kDiagTable[static_cast<unsigned>(id)]; }

llvm::ArrayRef<DiagInfo> allDiagInfos() { return kDiagTable; }

DiagnosticEngine::Builder DiagnosticEngine::add(DiagId id, llvm::SMRange range,
                                                std::string message) {
  Severity sev = diagInfo(id).severity;
  if (sev == Severity::Error) {
    if (limitReached()) {
      droppedAny_ = true;
      return Builder(this, nullptr);
    }
    ++errorCount_;
  } else if (sev == Severity::Warning) {
    ++warningCount_;
  }
  diags_.push_back(std::make_unique<Diagnostic>(
      Diagnostic{id, sev, range, std::move(message), {}, {}}));
  return Builder(this, diags_.back().get());
}

std::vector<const Diagnostic *> DiagnosticEngine::sorted() const {
  std::vector<const Diagnostic *> out;
  out.reserve(diags_.size());
  for (auto &d : diags_)
    out.push_back(d.get());
  auto key = [&](const Diagnostic *d) {
    unsigned buf = sm_.bufferOf(d->range.Start);
    size_t off = buf ? d->range.Start.getPointer() - sm_.text(buf).data() : 0;
    return std::pair<unsigned, size_t>(buf, off);
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const Diagnostic *a, const Diagnostic *b) { return key(a) < key(b); });
  return out;
}

std::vector<const Diagnostic *> DiagnosticEngine::shown() const {
  std::vector<const Diagnostic *> all = sorted();
  if (!maxErrors_)
    return all;
  std::vector<const Diagnostic *> out;
  unsigned errors = 0;
  for (const Diagnostic *d : all) {
    if (d->severity == Severity::Error && ++errors > maxErrors_)
      break; // like clang: nothing after the last error shown
    out.push_back(d);
  }
  return out;
}

std::string diagnosticSummary(const DiagnosticEngine &engine) {
  auto plural = [](unsigned n, const char *word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
  };
  // Like clang, count the errors shown (after --max-errors), not all found.
  unsigned e = engine.errorCount(), w = engine.warningCount();
  if (engine.maxErrors() && e > engine.maxErrors())
    e = engine.maxErrors();
  if (!e && !w)
    return "";
  if (e && w)
    return plural(e, "error") + " and " + plural(w, "warning") + " generated";
  return (e ? plural(e, "error") : plural(w, "warning")) + " generated";
}

std::string quotedList(llvm::ArrayRef<std::string> names, llvm::StringRef conj) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i)
      out += (i + 1 == names.size()) ? (" " + conj.str() + " ") : ", ";
    out += "`" + names[i] + "`";
  }
  return out.empty() ? "none" : out;
}

/// Optimal string alignment distance: Levenshtein plus adjacent
/// transpositions, so `prod-ue` is one edit from `prod-eu` (a swapped pair is
/// the most common typo; plain Levenshtein counts it as two).
static unsigned typoDistance(llvm::StringRef a, llvm::StringRef b) {
  std::vector<std::vector<unsigned>> d(a.size() + 1, std::vector<unsigned>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string closestName(llvm::StringRef name, llvm::ArrayRef<std::string> candidates) {
  // Typos are short-name business: long names would make the O(n·m)
  // distance over thousands of candidates a denial of service.
  if (name.size() > 64)
    return "";
  // Allow roughly one typo per three characters, as clang's typo correction does.
  unsigned limit = std::max<unsigned>(1, (name.size() + 2) / 3);
  std::string best;
  unsigned bestDist = limit + 1;
  for (auto &c : candidates) {
    if (c == name)
      continue;
    size_t lenDiff = c.size() > name.size() ? c.size() - name.size() : name.size() - c.size();
    if (lenDiff > limit)
      continue;
    unsigned d = typoDistance(name, c);
    if (d < bestDist || (d == bestDist && c < best)) {
      bestDist = d;
      best = c;
    }
  }
  return bestDist <= limit ? best : "";
}

} // namespace dpl
