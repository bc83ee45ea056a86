// Rendering of `deployc explain`.
#include "compiler/driver/Explain.h"

#include <fmt/format.h>
#include <llvm/Support/JSON.h>

namespace dpl {

namespace {

/// "file:line:col (block; stakeholder)" or "the stdlib".
std::string where(const Provenance &p) {
  if (p.file.empty())
    return "the stdlib";
  std::string out = fmt::format("{}:{}:{} ({}", p.file, p.line, p.column, p.block);
  if (!p.stakeholder.empty())
    out += "; " + p.stakeholder;
  return out + ")";
}

const char *rankShort(Rank r) {
  switch (r) {
  case Rank::StdlibDefault: return "stdlib default";
  case Rank::Defaults: return "defaults";
  case Rank::Service: return "service value";
  case Rank::InPredicate: return "in-predicate override";
  case Rank::InEnvironment: return "in-environment override";
  }
  return "?";
}

std::string guardCall(const ResolvedGuard &g) {
  std::string out = g.kind + "(";
  bool first = true;
  for (auto &[name, v] : g.args) {
    if (v.isNull())
      continue;
    out += (first ? "" : ", ") + name + " = " + toSource(v);
    first = false;
  }
  return out + ")";
}

llvm::json::Value provenanceJson(const Provenance &p) {
  if (p.file.empty())
    return llvm::json::Object{{"source", "stdlib"}};
  return llvm::json::Object{{"file", p.file},       {"line", p.line},
                            {"column", p.column},   {"stakeholder", p.stakeholder},
                            {"block", p.block}};
}

} // namespace

void explainUnitText(const Unit &unit, llvm::raw_ostream &os) {
  os << "unit " << unit.service << "@" << unit.environment << "\n";
  os << "\nvalues (winner first; ranks: stdlib default < defaults < service value < "
        "in-predicate < in-environment)\n";
  for (const ResolvedField &f : unit.fields) {
    os << "  " << f.name << " = " << toSource(f.value) << "\n";
    if (f.value.isNull() && f.overridden.empty() && f.where.file.empty() && f.where.block.empty()) {
      os << "      unset (optional, no default)\n";
      continue;
    }
    os << "      from       " << rankShort(f.rank) << " at " << where(f.where) << "\n";
    for (size_t i = 0; i < f.overridden.size(); ++i) {
      const Candidate &c = f.overridden[i];
      os << (i ? "                 " : "      overrides  ") << toSource(c.value) << "  "
         << (c.rank == Rank::StdlibDefault ? "stdlib default" : std::string(rankShort(c.rank)) + " at " + where(c.where))
         << "\n";
    }
    for (const std::string &c : f.constraints)
      os << "      satisfies  " << c << "\n";
  }
  os << "\nguards (in order)\n";
  if (unit.guards.empty())
    os << "  none\n";
  for (const ResolvedGuard &g : unit.guards) {
    os << "  " << (g.phase == GuardPhase::Gate ? "gate    " : "verify  ") << guardCall(g) << "\n";
    for (size_t i = 0; i < g.requiredBy.size(); ++i)
      os << (i ? "                   " : "      required by  ") << where(g.requiredBy[i]) << "\n";
    if (!g.merged.empty())
      os << "      merged       " << g.merged << "\n";
  }
  os << "\nconstraints\n";
  if (unit.constraints.empty())
    os << "  none\n";
  for (const ConstraintResult &c : unit.constraints)
    os << "  " << c.text << "  " << (!c.holds ? "VIOLATED" : c.applicable ? "holds" : "not applicable (a value is unset)")
       << "  at " << where(c.where) << "\n";
  os << "\nwaits for\n";
  if (unit.waitsFor.empty())
    os << "  nothing (first environment, no dependencies)\n";
  for (const std::string &w : unit.waitsFor)
    os << "  " << w << "\n";
}

void explainUnitJson(const Unit &unit, llvm::raw_ostream &os) {
  llvm::json::Array fields;
  for (const ResolvedField &f : unit.fields) {
    llvm::json::Array overridden;
    for (const Candidate &c : f.overridden)
      overridden.push_back(llvm::json::Object{{"value", toSource(c.value)},
                                              {"rank", rankShort(c.rank)},
                                              {"from", provenanceJson(c.where)}});
    llvm::json::Array satisfies;
    for (auto &c : f.constraints)
      satisfies.push_back(c);
    fields.push_back(llvm::json::Object{{"name", f.name},
                                        {"value", toSource(f.value)},
                                        {"rank", rankShort(f.rank)},
                                        {"from", provenanceJson(f.where)},
                                        {"overrides", std::move(overridden)},
                                        {"satisfies", std::move(satisfies)}});
  }
  llvm::json::Array guards;
  for (const ResolvedGuard &g : unit.guards) {
    llvm::json::Array by;
    for (auto &p : g.requiredBy)
      by.push_back(provenanceJson(p));
    guards.push_back(llvm::json::Object{{"kind", g.kind},
                                        {"phase", g.phase == GuardPhase::Gate ? "gate" : "verify"},
                                        {"call", guardCall(g)},
                                        {"required_by", std::move(by)},
                                        {"merged", g.merged}});
  }
  llvm::json::Array constraints;
  for (const ConstraintResult &c : unit.constraints)
    constraints.push_back(llvm::json::Object{
        {"constraint", c.text},
        {"rule", c.rule},
        {"result", !c.holds ? "violated" : c.applicable ? "holds" : "not-applicable"},
        {"from", provenanceJson(c.where)}});
  llvm::json::Array waits;
  for (auto &w : unit.waitsFor)
    waits.push_back(w);
  llvm::json::Object root{{"unit", unit.service + "@" + unit.environment},
                          {"service", unit.service},
                          {"environment", unit.environment},
                          {"values", std::move(fields)},
                          {"guards", std::move(guards)},
                          {"constraints", std::move(constraints)},
                          {"waits_for", std::move(waits)}};
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
}

} // namespace dpl
